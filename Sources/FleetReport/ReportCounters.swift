internal import FleetCore
internal import FleetMetrics

/// The report's counter sections and the in-memory counters they are written from, both ways: the builder writes a
/// run's `FleetCounters` and `HubStats` with `sections(_:)` and `hubSection(_:)`, and `fleetstorm merge` reads each
/// report's sections back into them, adds them with their own `add` (the one merge algebra), and writes the sum
/// with the same writers. Reading back refuses, in one line naming the field, what no run writes (a CONNACK code past
/// 255, a twin status past 65,535, a `failed` that is not the sum of its reasons), so nothing is lost in a merge.
extension ReportBuilder {
    /// What a report's accounting, connections, outcomes, statuses, transitions and twin sections say, written from
    /// the counters (`malformed_packets` is the run's, not a device counter: the caller sets it).
    static func sections(_ c: FleetCounters) -> Measurements {
        var m = Measurements()
        for (ours, theirs) in accountingFields { m.accounting[keyPath: theirs] = c[keyPath: ours] }
        for (ours, theirs) in accountingMaps { m.accounting[keyPath: theirs] = c[keyPath: ours] }
        m.accounting.failed = c.failed
        m.accounting.imbalance = c.imbalance
        for (ours, theirs) in connectionFields { m.connections[keyPath: theirs] = c[keyPath: ours] }
        m.connections.refusedByCode = Dictionary(
            uniqueKeysWithValues: c.refusedByCode.map { (UInt32($0.key), $0.value) }
        )
        m.connections.connectionErrors = c.connectionErrors
        m.outcomes = c.outcomes
        if c.twin.operations + c.twin.requests > 0 {
            var t = Fleetstorm_Report_V1_TwinOperations()
            for (ours, theirs) in twinFields { t[keyPath: theirs] = c.twin[keyPath: ours] }
            t.answersByStatus = Dictionary(
                uniqueKeysWithValues: c.twin.answersByStatus.map { (UInt32($0.key), $0.value) }
            )
            m.twin = t
        }
        m.statuses = c.finalStatuses.sorted { ($0.key.status, $0.key.reason) < ($1.key.status, $1.key.reason) }.map {
            var s = Fleetstorm_Report_V1_StatusCount()
            s.status = $0.key.status
            s.reason = $0.key.reason
            s.count = $0.value
            return s
        }
        m.transitions = c.transitions.sorted {
            ($0.key.from, $0.key.to, $0.key.reason) < ($1.key.from, $1.key.to, $1.key.reason)
        }.map {
            var t = Fleetstorm_Report_V1_Transition()
            t.from = $0.key.from
            t.to = $0.key.to
            t.reason = $0.key.reason
            t.count = $0.value
            return t
        }
        return m
    }

    /// The counter sections' fields, each a field of `FleetCounters` (or `TwinCounts`) and of the report's message:
    /// written and read back through these lists; `failed`, `imbalance` (derived), the refusals by CONNACK code and
    /// the twin answers by status (keys of another width) are mapped apart.
    static var accountingFields:
        [(WritableKeyPath<FleetCounters, UInt64>, WritableKeyPath<Fleetstorm_Report_V1_Accounting, UInt64>)]
    {
        [
            (\.generated, \.generated), (\.acked, \.acked), (\.pending, \.pending), (\.sent, \.sent),
            (\.received, \.c2DReceived),
        ]
    }

    static var accountingMaps:
        [(
            WritableKeyPath<FleetCounters, [String: UInt64]>,
            WritableKeyPath<Fleetstorm_Report_V1_Accounting, [String: UInt64]>
        )]
    {
        [(\.failedByReason, \.failedByReason), (\.generatedByKind, \.generatedByKind), (\.ackedByKind, \.ackedByKind)]
    }

    static var connectionFields:
        [(WritableKeyPath<FleetCounters, UInt64>, WritableKeyPath<Fleetstorm_Report_V1_Connections, UInt64>)]
    {
        [
            (\.connectAttempts, \.attempts), (\.connected, \.accepted), (\.retries, \.retries),
            (\.reconnects, \.reconnects), (\.lateConnects, \.lateConnects),
        ]
    }

    static var twinFields:
        [(WritableKeyPath<TwinCounts, UInt64>, WritableKeyPath<Fleetstorm_Report_V1_TwinOperations, UInt64>)]
    {
        [
            (\.operations, \.operations), (\.requests, \.requests), (\.unanswered, \.unanswered),
            (\.completed, \.completed), (\.gaveUp, \.gaveUp), (\.openAtStop, \.openAtStop),
        ]
    }

    /// The hub section's counters: each a field of `HubStats` and of the report's message, written and read back
    /// through this one list (`devices_seen` and the refusals by reason are mapped apart).
    static var hubFields: [(WritableKeyPath<HubStats, UInt64>, WritableKeyPath<Fleetstorm_Report_V1_HubStats, UInt64>)]
    {
        [
            (\.connectionsAccepted, \.connectionsAccepted), (\.connectionsRefused, \.connectionsRefused),
            (\.messagesReceived, \.messagesReceived), (\.duplicates, \.duplicates), (\.outOfOrder, \.outOfOrder),
            (\.protocolErrors, \.protocolErrors), (\.takenOver, \.takenOver),
            (\.tokenExpiredDrops, \.tokenExpiredDrops),
            (\.shapedConnects, \.shapedConnects), (\.shapedSends, \.shapedSends),
            (\.throttledConnects, \.throttledConnects), (\.throttledSends, \.throttledSends),
            (\.pingFloods, \.pingFloods), (\.forbiddenTopics, \.forbiddenTopics), (\.slowConsumers, \.slowConsumers),
            (\.c2dSent, \.c2DSent), (\.c2dAcked, \.c2DAcked), (\.c2dRejected, \.c2DRejected),
            (\.twinGets, \.twinGets), (\.twinPatches, \.twinPatches), (\.quotaExceeded, \.quotaExceeded),
            (\.shapedTwinRequests, \.shapedTwinRequests), (\.throttledTwinRequests, \.throttledTwinRequests),
        ]
    }

    /// The report's hub section, written from what the hub counted.
    static func hubSection(_ hub: HubStats) -> Fleetstorm_Report_V1_HubStats {
        var h = Fleetstorm_Report_V1_HubStats()
        for (ours, theirs) in hubFields { h[keyPath: theirs] = hub[keyPath: ours] }
        h.devicesSeen = hub.devicesSeen
        h.refusedByReason = hub.refusedByReason
        return h
    }
}

extension ReportMerge {
    /// The counters a report's sections were written from (the inverse of `ReportBuilder.sections`). `what` names
    /// the report (and cohort) in a refusal.
    static func counters(
        accounting a: Fleetstorm_Report_V1_Accounting,
        connections n: Fleetstorm_Report_V1_Connections,
        outcomes: [String: UInt64],
        statuses: [Fleetstorm_Report_V1_StatusCount],
        transitions: [Fleetstorm_Report_V1_Transition],
        twin: Fleetstorm_Report_V1_TwinOperations?,
        what: String
    ) throws(MergeError) -> FleetCounters {
        var c = FleetCounters()
        for (ours, theirs) in ReportBuilder.accountingFields { c[keyPath: ours] = a[keyPath: theirs] }
        for (ours, theirs) in ReportBuilder.accountingMaps { c[keyPath: ours] = a[keyPath: theirs] }
        // `failed` and `imbalance` are written from the other counts; a report where they disagree is damaged.
        guard c.failed == a.failed else {
            throw MergeError(
                description: "\(what): accounting.failed \(a.failed) is not the sum of failed_by_reason (\(c.failed))"
            )
        }
        guard c.imbalance == a.imbalance else {
            throw MergeError(
                description:
                    "\(what): accounting.imbalance \(a.imbalance) does not follow from its counts (\(c.imbalance))"
            )
        }
        for (ours, theirs) in ReportBuilder.connectionFields { c[keyPath: ours] = n[keyPath: theirs] }
        for (code, count) in n.refusedByCode {
            guard let byte = UInt8(exactly: code) else {
                throw MergeError(description: "\(what): connections.refused_by_code \(code) is not a CONNACK code")
            }
            c.refusedByCode[byte] = count
        }
        c.connectionErrors = n.connectionErrors
        c.outcomes = outcomes
        for s in statuses { c.finalStatuses[FinalStatus(status: s.status, reason: s.reason), default: 0] += s.count }
        for t in transitions {
            c.transitions[StatusTransition(from: t.from, to: t.to, reason: t.reason), default: 0] += t.count
        }
        if let twin {
            for (ours, theirs) in ReportBuilder.twinFields { c.twin[keyPath: ours] = twin[keyPath: theirs] }
            for (status, count) in twin.answersByStatus {
                guard let code = UInt16(exactly: status) else {
                    throw MergeError(description: "\(what): twin.answers_by_status \(status) is not a status")
                }
                c.twin.answersByStatus[code] = count
            }
        }
        return c
    }

    /// The counters of a report's whole run, or of one of its cohorts (`what` names it in a refusal).
    static func counters(_ r: some CounterSections, what: String) throws(MergeError) -> FleetCounters {
        try counters(
            accounting: r.accounting,
            connections: r.connections,
            outcomes: r.outcomes,
            statuses: r.statuses,
            transitions: r.transitions,
            twin: r.hasTwin ? r.twin : nil,
            what: what
        )
    }

    /// What a report's hub section was written from (the inverse of `ReportBuilder.hubSection`): its device count
    /// stands as devices seen without a per-device map.
    static func hubStats(_ h: Fleetstorm_Report_V1_HubStats) -> HubStats {
        var s = HubStats()
        for (ours, theirs) in ReportBuilder.hubFields { s[keyPath: ours] = h[keyPath: theirs] }
        s.devicesSeenUntracked = h.devicesSeen
        s.refusedByReason = h.refusedByReason
        return s
    }
}

/// The counter sections a whole run and a cohort both carry (the same fields in two messages).
protocol CounterSections {
    var accounting: Fleetstorm_Report_V1_Accounting { get }
    var connections: Fleetstorm_Report_V1_Connections { get }
    var outcomes: [String: UInt64] { get }
    var statuses: [Fleetstorm_Report_V1_StatusCount] { get }
    var transitions: [Fleetstorm_Report_V1_Transition] { get }
    var hasTwin: Bool { get }
    var twin: Fleetstorm_Report_V1_TwinOperations { get }
}

extension Fleetstorm_Report_V1_Report: CounterSections {}
extension Fleetstorm_Report_V1_Cohort: CounterSections {}
