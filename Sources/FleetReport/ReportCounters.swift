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
        m.accounting.generated = c.generated
        m.accounting.acked = c.acked
        m.accounting.failed = c.failed
        m.accounting.pending = c.pending
        m.accounting.sent = c.sent
        m.accounting.imbalance = c.imbalance
        m.accounting.failedByReason = c.failedByReason
        m.accounting.generatedByKind = c.generatedByKind
        m.accounting.ackedByKind = c.ackedByKind
        m.accounting.c2DReceived = c.received
        m.connections.attempts = c.connectAttempts
        m.connections.accepted = c.connected
        m.connections.refusedByCode = Dictionary(
            uniqueKeysWithValues: c.refusedByCode.map { (UInt32($0.key), $0.value) }
        )
        m.connections.retries = c.retries
        m.connections.reconnects = c.reconnects
        m.connections.connectionErrors = c.connectionErrors
        m.connections.lateConnects = c.lateConnects
        m.outcomes = c.outcomes
        if c.twin.operations + c.twin.requests > 0 {
            var t = Fleetstorm_Report_V1_TwinOperations()
            t.operations = c.twin.operations
            t.requests = c.twin.requests
            t.answersByStatus = Dictionary(
                uniqueKeysWithValues: c.twin.answersByStatus.map { (UInt32($0.key), $0.value) }
            )
            t.unanswered = c.twin.unanswered
            t.completed = c.twin.completed
            t.gaveUp = c.twin.gaveUp
            t.openAtStop = c.twin.openAtStop
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

    /// The report's hub section, written from what the hub counted.
    static func hubSection(_ hub: HubStats) -> Fleetstorm_Report_V1_HubStats {
        var h = Fleetstorm_Report_V1_HubStats()
        h.connectionsAccepted = hub.connectionsAccepted
        h.connectionsRefused = hub.connectionsRefused
        h.messagesReceived = hub.messagesReceived
        h.duplicates = hub.duplicates
        h.outOfOrder = hub.outOfOrder
        h.devicesSeen = hub.devicesSeen
        h.protocolErrors = hub.protocolErrors
        h.refusedByReason = hub.refusedByReason
        h.takenOver = hub.takenOver
        h.tokenExpiredDrops = hub.tokenExpiredDrops
        h.shapedConnects = hub.shapedConnects
        h.shapedSends = hub.shapedSends
        h.throttledConnects = hub.throttledConnects
        h.throttledSends = hub.throttledSends
        h.pingFloods = hub.pingFloods
        h.forbiddenTopics = hub.forbiddenTopics
        h.slowConsumers = hub.slowConsumers
        h.c2DSent = hub.c2dSent
        h.c2DAcked = hub.c2dAcked
        h.c2DRejected = hub.c2dRejected
        h.twinGets = hub.twinGets
        h.twinPatches = hub.twinPatches
        h.quotaExceeded = hub.quotaExceeded
        h.shapedTwinRequests = hub.shapedTwinRequests
        h.throttledTwinRequests = hub.throttledTwinRequests
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
        c.generated = a.generated
        c.acked = a.acked
        c.pending = a.pending
        c.sent = a.sent
        c.failedByReason = a.failedByReason
        c.generatedByKind = a.generatedByKind
        c.ackedByKind = a.ackedByKind
        c.received = a.c2DReceived
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
        c.connectAttempts = n.attempts
        c.connected = n.accepted
        for (code, count) in n.refusedByCode {
            guard let byte = UInt8(exactly: code) else {
                throw MergeError(description: "\(what): connections.refused_by_code \(code) is not a CONNACK code")
            }
            c.refusedByCode[byte] = count
        }
        c.retries = n.retries
        c.reconnects = n.reconnects
        c.connectionErrors = n.connectionErrors
        c.lateConnects = n.lateConnects
        c.outcomes = outcomes
        for s in statuses { c.finalStatuses[FinalStatus(status: s.status, reason: s.reason), default: 0] += s.count }
        for t in transitions {
            c.transitions[StatusTransition(from: t.from, to: t.to, reason: t.reason), default: 0] += t.count
        }
        if let twin {
            c.twin.operations = twin.operations
            c.twin.requests = twin.requests
            for (status, count) in twin.answersByStatus {
                guard let code = UInt16(exactly: status) else {
                    throw MergeError(description: "\(what): twin.answers_by_status \(status) is not a status")
                }
                c.twin.answersByStatus[code] = count
            }
            c.twin.unanswered = twin.unanswered
            c.twin.completed = twin.completed
            c.twin.gaveUp = twin.gaveUp
            c.twin.openAtStop = twin.openAtStop
        }
        return c
    }

    /// A report's whole-run counters, and one cohort's.
    static func counters(_ r: Fleetstorm_Report_V1_Report, name: String) throws(MergeError) -> FleetCounters {
        try counters(
            accounting: r.accounting,
            connections: r.connections,
            outcomes: r.outcomes,
            statuses: r.statuses,
            transitions: r.transitions,
            twin: r.hasTwin ? r.twin : nil,
            what: name
        )
    }

    static func counters(_ c: Fleetstorm_Report_V1_Cohort, name: String) throws(MergeError) -> FleetCounters {
        try counters(
            accounting: c.accounting,
            connections: c.connections,
            outcomes: c.outcomes,
            statuses: c.statuses,
            transitions: c.transitions,
            twin: c.hasTwin ? c.twin : nil,
            what: "\(name), cohort \(c.name)"
        )
    }

    /// What a report's hub section was written from (the inverse of `ReportBuilder.hubSection`): its device count
    /// stands as devices seen without a per-device map.
    static func hubStats(_ h: Fleetstorm_Report_V1_HubStats) -> HubStats {
        var s = HubStats()
        s.connectionsAccepted = h.connectionsAccepted
        s.connectionsRefused = h.connectionsRefused
        s.messagesReceived = h.messagesReceived
        s.duplicates = h.duplicates
        s.outOfOrder = h.outOfOrder
        s.devicesSeenUntracked = h.devicesSeen
        s.protocolErrors = h.protocolErrors
        s.refusedByReason = h.refusedByReason
        s.takenOver = h.takenOver
        s.tokenExpiredDrops = h.tokenExpiredDrops
        s.shapedConnects = h.shapedConnects
        s.shapedSends = h.shapedSends
        s.throttledConnects = h.throttledConnects
        s.throttledSends = h.throttledSends
        s.pingFloods = h.pingFloods
        s.forbiddenTopics = h.forbiddenTopics
        s.slowConsumers = h.slowConsumers
        s.c2dSent = h.c2DSent
        s.c2dAcked = h.c2DAcked
        s.c2dRejected = h.c2DRejected
        s.twinGets = h.twinGets
        s.twinPatches = h.twinPatches
        s.quotaExceeded = h.quotaExceeded
        s.shapedTwinRequests = h.shapedTwinRequests
        s.throttledTwinRequests = h.throttledTwinRequests
        return s
    }
}
