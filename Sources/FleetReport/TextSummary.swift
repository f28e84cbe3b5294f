internal import FleetCore

/// Renders a report as the text summary `run`, `hub` and `report` print.
public enum TextSummary {
    /// The devices' transport as the header names it, from the target's URL scheme: "HTTPS device API", "AMQP 1.0",
    /// "MQTT 5 over TLS", "MQTT 3.1.1 over WebSockets", ... (a simulation models plain MQTT or AMQP).
    static func transport(_ run: Fleetstorm_Report_V1_RunInfo) -> String {
        let target = run.target
        if target.contains("https://") { return "HTTPS device API" }
        if target.contains("amqp+wss://") { return "AMQP 1.0 over WebSockets and TLS" }
        if target.contains("amqp+ws://") { return "AMQP 1.0 over WebSockets" }
        if target.contains("amqps://") { return "AMQP 1.0 over TLS" }
        if target.contains("amqp://") { return "AMQP 1.0" }
        let mqtt = "MQTT \(run.mqttVersion)"
        if target.contains("wss://") { return mqtt + " over WebSockets and TLS" }
        if target.contains("ws://") { return mqtt + " over WebSockets" }
        if target.contains("mqtts://") { return mqtt + " over TLS" }
        return mqtt
    }

    public static func render(_ r: Fleetstorm_Report_V1_Report) -> String {
        if r.hasTune { return TuneSummary.render(r) }
        var out: [String] = []
        let run = r.run
        let seconds = Double(run.durationNs) / 1e9
        if run.kind == "hub" {
            out.append("FleetStorm hub report — listened \(fixed(seconds, 1)) s")
        } else {
            out.append(
                "FleetStorm \(Self.kindName(run.kind)) \"\(run.profileName)\" — \(run.devices) devices, \(transport(run)), "
                    + "seed \(run.seed), \(fixed(seconds, 1)) s against \(run.target)"
            )
        }
        out += shardLines(run)
        if run.hitDeadline { out.append("note: the profile's duration ran out before every device finished") }
        if run.cancelled { out.append("note: the run was interrupted; the report covers what happened until then") }
        if !r.histograms.isEmpty {
            out.append("")
            out.append(
                pad("latency", 22) + pad("count", 10)
                    + ["p50", "p90", "p99", "p99.9", "max"].map { pad($0, 11) }.joined()
            )
            for h in r.histograms where h.name != "predicted_retry_delay" {  // a prediction, not a measurement
                let cells = [h.p50, h.p90, h.p99, h.p999, h.max].map { pad(formatNanoseconds($0), 11) }.joined()
                out.append(pad(label(h), 22) + pad(String(h.count), 10) + cells)
            }
        }
        // A hub's report (also hub workers' merged one) has no device side: no zero lines for it.
        if r.hasConnections && run.kind != "hub" {
            let c = r.connections
            var line = "connections: \(c.attempts) attempts, \(c.accepted) accepted"
            let refused = c.refusedByCode.values.reduce(0, +)
            if refused > 0 {
                let codes = c.refusedByCode.sorted { $0.key < $1.key }.map { "code \($0.key): \($0.value)" }
                line += ", \(refused) refused (\(codes.joined(separator: ", ")))"
            }
            if c.malformedPackets > 0 { line += ", \(c.malformedPackets) malformed packets" }
            if c.retries > 0 { line += ", \(c.retries) retries, \(c.reconnects) reconnects" }
            if c.lateConnects > 0 { line += ", \(c.lateConnects) late connects closed" }
            out.append("")
            out.append(line)
            // Socket and TLS errors, each with what it means and what to check.
            for (kind, count) in c.connectionErrors.sorted(by: { $0.value > $1.value }) {
                let why = ConnectionError(rawValue: kind)?.explanation ?? HubServiceError.explain(counter: kind) ?? kind
                out.append("  \(count) × \(kind): \(why)")
            }
        }
        if r.hasAccounting && run.kind != "hub" {
            let a = r.accounting
            var line =
                "messages: \(a.generated) generated, \(a.acked) acked, "
                + (a.sent > 0 ? "\(a.sent) sent (QoS 0), " : "") + "\(a.failed) failed, \(a.pending) pending"
            if !a.failedByReason.isEmpty {
                line +=
                    " (failed: "
                    + a.failedByReason.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                    .joined(separator: ", ") + ")"
            }
            out.append(line)
            if !a.generatedByKind.isEmpty {
                out.append(
                    "messages by kind: "
                        + a.generatedByKind.sorted { $0.key < $1.key }.map {
                            "\($0.key) \($0.value) generated, \(a.ackedByKind[$0.key] ?? 0) acked"
                        }.joined(separator: "; ")
                )
            }
            if r.hasTwin { out.append(twinLine(r.twin)) }
            if a.imbalance != 0 {
                out.append(
                    "ACCOUNTING MISMATCH: generated \(a.generated) ≠ acked + sent + failed + pending "
                        + "(off by \(a.imbalance)): messages were lost in FleetStorm's own bookkeeping — please report it"
                )
            }
        }
        if !r.outcomes.isEmpty {
            out.append(
                "devices: "
                    + r.outcomes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            )
        }
        if r.hasSeries, let attempts = r.series.series.first(where: { $0.name == "attempts" }),
            attempts.values.contains(where: { $0 > 0 })
        {
            let width = Double(r.series.binNs) / 1e6
            out.append("")
            // `connected` is a gauge read at each bin's end: devices that reconnect, flush and leave within one bin
            // show in `accepted`, not there.
            out.append(
                "per \(fixed(width, 0)) ms bin (each character is a span of bins, scaled to the peak; "
                    + "connected: at the bin's end):"
            )
            for name in ["attempts", "accepted", "connected", "acked"] {
                guard let s = r.series.series.first(where: { $0.name == name }) else { continue }
                out.append("  \(pad(name, 10)) \(sparkline(s.values))  peak \(s.values.max() ?? 0)")
            }
            if let w = r.series.series.first(where: { $0.name == "connect_window" }), let largest = w.values.max(),
                largest > 0
            {
                let shrank = zip(w.values, w.values.dropFirst()).filter { $1 < $0 }.count
                out.append(
                    "connect window (max_in_flight: auto, from \(ConnectWindow.initial)): largest \(largest), "
                        + "at the end \(w.values.last ?? 0), smaller than the bin before in \(shrank) of \(w.values.count) bins"
                )
            }
        }
        if !r.statuses.isEmpty {
            out.append(
                "final status: " + r.statuses.map { "\($0.count) \($0.status)/\($0.reason)" }.joined(separator: ", ")
            )
        }
        if !r.transitions.isEmpty {
            out.append("status changes:")
            for t in r.transitions { out.append("  \(pad(String(t.count), 8))\(t.from) → \(t.to) (\(t.reason))") }
        }
        if r.cohorts.count > 1 {
            for c in r.cohorts {
                out.append("")
                out.append(
                    "cohort \(c.name): \(c.devices) devices, sdk \(c.sdk.isEmpty ? "(not recorded)" : c.sdk), retry \(c.policy)"
                )
                let delays = c.histograms.filter { $0.name == "retry_delay" }.map {
                    "#\($0.attempt == 4 ? "4+" : String($0.attempt)) p50 \(formatNanoseconds($0.p50)) max \(formatNanoseconds($0.max))"
                }
                if !delays.isEmpty { out.append("  retry delays: " + delays.joined(separator: ", ")) }
                if let od = c.histograms.first(where: { $0.name == "outage_detection" }) {
                    out.append(
                        "  outage detected: \(od.count), p50 \(formatNanoseconds(od.p50)), p99 \(formatNanoseconds(od.p99)), "
                            + "max \(formatNanoseconds(od.max)) after the fault"
                    )
                }
                if let rc = c.histograms.first(where: { $0.name == "reconnect" }) {
                    out.append(
                        "  reconnect: \(rc.count), p50 \(formatNanoseconds(rc.p50)), p99 \(formatNanoseconds(rc.p99))"
                    )
                }
                out.append(
                    "  final status: "
                        + c.statuses.map { "\($0.count) \($0.status)/\($0.reason)" }.joined(separator: ", ")
                )
                let a = c.accounting
                out.append(
                    "  messages: \(a.generated) generated, \(a.acked) acked, \(a.failed) failed, \(a.pending) pending"
                )
            }
        }
        if r.hasHub {
            let h = r.hub
            out.append(
                "hub: \(h.connectionsAccepted) connections accepted, \(h.connectionsRefused) refused, "
                    + "\(h.messagesReceived) messages from \(h.devicesSeen) \(r.run.hubWorkers > 1 ? "devices summed over the workers (one that reconnected to another worker counts in each)" : "devices"), "
                    + "\(h.duplicates) duplicates, \(h.outOfOrder) out of order, "
                    + "\(h.protocolErrors) protocol errors"
            )
            if !h.refusedByReason.isEmpty {
                out.append(
                    "  refused by reason: "
                        + h.refusedByReason.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                            separator: ", "
                        )
                )
            }
            var extra: [String] = []
            if h.takenOver > 0 { extra.append("\(h.takenOver) taken over") }
            if h.tokenExpiredDrops > 0 { extra.append("\(h.tokenExpiredDrops) dropped at token expiry") }
            if h.shapedConnects + h.shapedSends > 0 {
                extra.append("shaped \(h.shapedConnects) CONNACKs / \(h.shapedSends) PUBACKs")
            }
            if h.throttledConnects + h.throttledSends > 0 {
                extra.append("throttled \(h.throttledConnects) connects / \(h.throttledSends) sends")
            }
            if h.pingFloods + h.forbiddenTopics + h.slowConsumers > 0 {
                extra.append(
                    "closed \(h.pingFloods) ping floods, \(h.forbiddenTopics) forbidden topics, \(h.slowConsumers) slow readers"
                )
            }
            if h.c2DSent > 0 || h.c2DRejected > 0 {
                // Over MQTT the hub writes a C2D message to the device; over HTTPS it holds it for the device's
                // next poll: "delivered" is either, and only a device's acknowledgement completes it.
                let delivered =
                    r.run.target.contains("https://")
                    ? "held for the devices' polls"
                    : r.run.kind == "hub" ? "delivered (or held for HTTPS polls)" : "written to devices"
                extra.append(
                    "C2D \(h.c2DSent) \(delivered), \(h.c2DAcked) acknowledged by devices, \(h.c2DRejected) refused (queue full)"
                )
            }
            if h.quotaExceeded > 0 { extra.append("\(h.quotaExceeded) requests over the daily quota (403002)") }
            if h.twinGets + h.twinPatches > 0 { extra.append("twin \(h.twinGets) GETs, \(h.twinPatches) PATCHes") }
            if h.shapedTwinRequests + h.throttledTwinRequests > 0 {
                extra.append(
                    "twin throttles: \(h.shapedTwinRequests) answers shaped, \(h.throttledTwinRequests) requests refused (429)"
                )
            }
            if !extra.isEmpty { out.append("  " + extra.joined(separator: "; ")) }
        }
        if !r.storms.isEmpty {
            out.append(contentsOf: stormTable(r.storms))
        }
        if r.hasHealth { out.append(healthLine(r.health)) }
        if !r.faults.isEmpty {
            out.append("faults (hub time from the start):")
            for f in r.faults {
                let start = fixed(Double(f.startNs) / 1e9, 2)
                let end = fixed(Double(f.endNs) / 1e9, 2)
                out.append("  \(pad(f.label, 28)) \(start)–\(end) s  \(f.affected) connections affected")
            }
        }
        return out.joined(separator: "\n")
    }

    /// A histogram's name with its slice: `retry_delay #4+`, `publish_ack (storm)`.
    static func label(_ h: Fleetstorm_Report_V1_Histogram) -> String {
        var label = h.attempt == 0 ? h.name : "\(h.name) #\(h.attempt == 4 ? "4+" : String(h.attempt))"
        if !h.phase.isEmpty { label += " (\(h.phase))" }
        if !h.kind.isEmpty { label += " [\(h.kind)]" }
        return label
    }

    /// One line: did the generator keep up?
    /// Which share of a fleet a shard was; for a merge, every shard that did not end well.
    static func shardLines(_ run: Fleetstorm_Report_V1_RunInfo) -> [String] {
        var out: [String] = []
        if run.shardCount > 0 {
            out.append(
                "shard \(run.shardIndex)/\(run.shardCount) of \(run.fleetDevices) devices: "
                    + "devices \(run.firstDevice) ..< \(run.firstDevice + run.devices)"
            )
        }
        if run.hubWorkers > 1 { out.append("hub: \(run.hubWorkers) worker processes") }
        if !run.shards.isEmpty {
            let bad = run.shards.filter { $0.status != "ok" }
            out.append("shards: \(run.shards.count - bad.count) of \(run.shards.count) ok")
            for s in bad {
                out.append(
                    "SHARD \(s.index) \(s.status.uppercased()) (\(s.devices) devices)"
                        + (s.detail.isEmpty ? "" : ": \(s.detail)")
                )
            }
        }
        return out
    }

    /// What produced the report, as the summary's first line names it.
    static func kindName(_ kind: String) -> String {
        switch kind {
        case "merge": "merged shards"
        case "simulation": "simulation"
        default: "run"
        }
    }

    public static func healthLine(_ h: Fleetstorm_Report_V1_Health) -> String {
        let facts =
            "loop lag p99 \(formatNanoseconds(h.loopLagP99Ns)), timer lateness p99 \(formatNanoseconds(h.timerLatenessP99Ns)), "
            + "late sends \(fixed(h.lateSendFraction * 100, 2))%, fd headroom \(h.fdHeadroom), device loop CPU \(fixed(h.loopCpuShare * 100, 0))%"
        if h.generatorLimited {
            let advice = h.advice.isEmpty ? "run fewer devices per process, or shards" : h.advice
            return
                "GENERATOR LIMITED (\(h.limits.joined(separator: "; "))): these latencies measure FleetStorm, not the hub — "
                + "\(advice). \(facts)"
        }
        return "generator: kept up (\(facts))"
    }

    /// The storm records as a table (times from each fault's start; "—" when the share never came back).
    static func stormTable(_ storms: [Fleetstorm_Report_V1_Storm]) -> [String] {
        var out = ["storms (attempt rates per second; recovery from the fault's start):"]
        // The fault column fits the longest name, so the columns after it stay aligned.
        let faultWidth = max(24, (storms.map(\.fault.count).max() ?? 0) + 2)
        let header = [
            pad("fault", faultWidth), pad("affected", 9), pad("back", 6), pad("peak", 8), pad("peak1s", 8),
            pad("mean", 8),
            pad("PMR", 6), pad("CV", 6), pad("sync", 6), pad("t50", 9), pad("t90", 9), pad("t99", 9), pad("t100", 9),
            pad("att/dev", 8), "wasted",
        ]
        out.append("  " + header.joined())
        func t(_ ns: Int64) -> String { ns < 0 ? "—" : formatNanoseconds(UInt64(ns)) }
        for s in storms {
            let row = [
                pad(s.fault, faultWidth), pad(String(s.affected), 9), pad(String(s.recovered), 6),
                pad(fixed(s.peakAttemptRate, 0), 8), pad(fixed(s.peakAttemptRate1S, 0), 8),
                pad(fixed(s.meanAttemptRate, 1), 8), pad(fixed(s.peakToMean, 1), 6), pad(fixed(s.cv, 2), 6),
                pad(fixed(s.syncIndex, 3), 6), pad(t(s.t50Ns), 9), pad(t(s.t90Ns), 9), pad(t(s.t99Ns), 9),
                pad(t(s.t100Ns), 9), pad(fixed(s.attemptsPerDevice, 2), 8), fixed(s.wastedFraction * 100, 1) + "%",
            ]
            out.append("  " + row.joined())
            if s.fault == "run" {
                if !s.spread.isEmpty {
                    out.append(
                        "  retry attempts after the fault (p25 / p50 / p75, IQR): "
                            + s.spread.map {
                                "#\($0.attempt == 4 ? "4+" : String($0.attempt)) \(formatNanoseconds($0.p25Ns)) / "
                                    + "\(formatNanoseconds($0.p50Ns)) / \(formatNanoseconds($0.p75Ns)), IQR \(formatNanoseconds($0.iqrNs))"
                            }.joined(separator: "; ")
                    )
                    out.append("  first retry vs the policy's prediction: KS distance \(fixed(s.ksFirstRetry, 3))")
                }
                if !s.neverRecovered.isEmpty {
                    out.append(
                        "  never recovered: "
                            + s.neverRecovered.map { "\($0.count) \($0.status)/\($0.reason)" }.joined(separator: ", ")
                    )
                }
            }
        }
        return out
    }

    /// `812µs`, `3.42ms`, `1.20s`.
    public static func formatNanoseconds(_ ns: UInt64) -> String {
        let v = Double(ns)
        if v >= 1e9 { return fixed(v / 1e9, 2) + "s" }
        if v >= 1e6 { return fixed(v / 1e6, 2) + "ms" }
        if v >= 1e3 { return fixed(v / 1e3, 0) + "µs" }
        return "\(ns)ns"
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let n = Int64(saturating: (v * scale).rounded())  // a damaged report's figure prints clamped, never traps
        guard digits > 0 else { return String(n) }
        let whole = n / Int64(scale)
        let frac = String(abs(n % Int64(scale)))
        let sign = n < 0 && whole == 0 ? "-" : ""  // -0.5 keeps its sign
        return "\(sign)\(whole)." + String(repeating: "0", count: digits - frac.count) + frac
    }

    /// At most 60 characters: each is the largest bin of its span, on an 8-level scale.
    static func sparkline(_ values: [UInt64]) -> String {
        guard !values.isEmpty, let peak = values.max(), peak > 0 else { return "" }
        let levels = Array("▁▂▃▄▅▆▇█")
        let span = max(1, (values.count + 59) / 60)
        var out = ""
        var i = 0
        while i < values.count {
            let chunk = values[i..<min(values.count, i + span)].max() ?? 0
            out.append(chunk == 0 ? " " : levels[min(7, Int(Double(chunk) / Double(peak) * 7.999))])
            i += span
        }
        return out
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    /// `twin: 2400 operations, 2380 completed, 10 gave up, 10 open at the stop; 2650 requests answered 200 ×1900,
    /// 204 ×490, 429 ×250, 10 unanswered`.
    static func twinLine(_ t: Fleetstorm_Report_V1_TwinOperations) -> String {
        let answers = t.answersByStatus.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
        return
            "twin: \(t.operations) operations, \(t.completed) completed, \(t.gaveUp) gave up, \(t.openAtStop) open at the stop; "
            + "\(t.requests) requests"
            + (answers.isEmpty ? "" : " answered " + answers.joined(separator: ", "))
            + ", \(t.unanswered) unanswered"
    }
}
