internal import Yams

extension ProfileReader {
    /// A standalone hub's fault file: `seed:` (optional) and `faults:`, nothing else.
    mutating func readFaultFile(_ root: Node) throws(ScenarioError) -> [Scenario.Fault] {
        var top = try section(root, path: "")
        let seed = try top.int("seed").map { UInt64($0) } ?? 1
        let faults = try Self.readFaults(&top, seed: seed, hub: .embedded, proxy: false)
        try top.finish()
        return faults
    }

    /// The `faults:` list: `[{at: 5s, kind: drop, fraction: 0.5}, {at: 10s, kind: outage, for: 20s}, ...]`.
    static func readFaults(
        _ top: inout Section,
        seed: UInt64,
        hub: Scenario.HubTarget,
        proxy proxyOK: Bool
    ) throws(ScenarioError) -> [Scenario.Fault] {
        var faults: [Scenario.Fault] = []
        try top.list("faults") { (f: inout Section) throws(ScenarioError) in
            let fault = try readFault(&f, salt: seed &+ UInt64(faults.count))
            if fault.kind.isNetwork {
                faults.append(fault)
                return
            }  // netlab's, not the hub's or the proxy's
            if !hub.isEmbedded {
                guard proxyOK else {
                    throw f.error(
                        .invalidValue,
                        "kind",
                        "faults against an external broker need the fault proxy (hub.fault_proxy: true, or --fault-proxy)"
                    )
                }
                guard fault.kind.worksThroughProxy, fault.target.isEveryone else {
                    throw f.error(
                        .invalidValue,
                        "kind",
                        "\(fault.kind.rawValue) with a selection needs the embedded hub; the fault proxy in front of an external broker does drop, outage, blackhole, slow-connack, slow-puback and flap for all devices"
                    )
                }
            }
            faults.append(fault)
        }
        faults.sort { $0.at < $1.at }
        return faults
    }

    static func readFault(_ f: inout Section, salt: UInt64) throws(ScenarioError) -> Scenario.Fault {
        guard let at = try f.duration("at") else {
            throw f.error(.invalidValue, "at", "every fault needs at: (e.g. at: 5s)")
        }
        let kindText = try f.string("kind") ?? ""
        guard let kind = Scenario.Fault.Kind(rawValue: kindText) else {
            let known = Scenario.Fault.Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw f.error(.invalidValue, "kind", "unknown fault kind \"\(kindText)\" (supported: \(known))")
        }
        var fault = Scenario.Fault(at: at, kind: kind)
        fault.duration = try f.duration("for") ?? .zero
        if kind.hasWindow && fault.duration == .zero {
            throw f.error(.invalidValue, "for", "\(kind.rawValue) lasts a window: add for: (e.g. for: 10s)")
        }
        if !kind.hasWindow && fault.duration != .zero {
            throw f.error(.invalidValue, "for", "\(kind.rawValue) happens at an instant: remove for:")
        }
        fault.delay = try f.duration("delay") ?? .zero
        let slow = kind == .slowConnack || kind == .slowPuback
        if slow && fault.delay == .zero {
            throw f.error(.invalidValue, "delay", "\(kind.rawValue) needs delay: (e.g. delay: 2s)")
        }
        if !slow && fault.delay != .zero {
            throw f.error(.invalidValue, "delay", "only slow-connack and slow-puback take delay:")
        }
        var target = FaultTarget(salt: salt)
        target.fraction = try f.double("fraction") ?? 1
        if target.fraction > 1 || target.fraction == 0 {
            throw f.error(.invalidValue, "fraction", "expected a share of the fleet in (0, 1], e.g. 0.25")
        }
        target.idPattern = try f.string("devices")
        target.source = try f.string("source")
        if let source = target.source, !looksLikeIPAddress(source) {
            throw f.error(.invalidValue, "source", "\"\(source)\" is not an IP address")
        }
        fault.target = target
        fault.connectRate = try f.double("connect_rate")
        fault.sendRate = try f.double("send_rate")
        if kind == .throttle && fault.connectRate == nil && fault.sendRate == nil {
            throw f.error(.invalidValue, "connect_rate", "throttle needs connect_rate: and/or send_rate: (per second)")
        }
        if kind != .throttle && (fault.connectRate != nil || fault.sendRate != nil) {
            throw f.error(
                .invalidValue,
                fault.connectRate != nil ? "connect_rate" : "send_rate",
                "only throttle takes rates"
            )
        }
        fault.period = try f.duration("period") ?? .zero
        fault.down = try f.duration("down") ?? .zero
        if kind == .flap || kind == .linkFlap {
            guard fault.period > .zero else {
                throw f.error(
                    .invalidValue,
                    "period",
                    "\(kind.rawValue) drops on a cycle: add period: (e.g. period: 10s)"
                )
            }
            guard fault.down < fault.period else {
                throw f.error(.invalidValue, "down", "down must be shorter than period")
            }
        } else if fault.period != .zero || fault.down != .zero {
            throw f.error(
                .invalidValue,
                fault.period != .zero ? "period" : "down",
                "only flap and link-flap take period: and down:"
            )
        }
        if let refuse = try f.string("refuse") {
            guard let r = Scenario.Fault.Refusal(rawValue: refuse), kind == .outage else {
                throw f.error(.invalidValue, "refuse", "outage takes refuse: connack or refuse: reset")
            }
            fault.refusal = r
        }
        if let uplink = try f.int("uplink") {
            guard kind.isNetwork else {
                throw f.error(
                    .invalidValue,
                    "uplink",
                    "only network faults (link-down, link-up, link-reset, switch-uplink, link-flap) take uplink:"
                )
            }
            fault.uplink = uplink
        }
        if kind.isNetwork && !target.isEveryone {
            throw f.error(
                .invalidValue,
                target.source != nil ? "source" : (target.idPattern != nil ? "devices" : "fraction"),
                "\(kind.rawValue) acts on a whole uplink (every device on it): remove the selection"
            )
        }
        if kind == .networkSwitch && target.source == nil && target.isEveryone {
            throw f.error(
                .invalidValue,
                "source",
                "network-switch needs the address that goes away (source: 127.0.0.2) or a selection (fraction:, devices:)"
            )
        }
        return fault
    }
}
