/// The network of `fleetstorm netlab`: two network namespaces joined by two veth links ("uplinks"), and the
/// commands that build it, break it at a profile's network faults and take it down. Pure: it returns `ip`/`nft`
/// argument lists; the service runs them. Addresses exist only inside these namespaces.
///
/// ```
///  <id>-dev (the fleet)                      <id>-hub (the hub, 10.200.0.1 on lo)
///  up1 10.200.1.2/24  ── veth ──  hub1 10.200.1.1/24
///  up2 10.200.2.2/24  ── veth ──  hub2 10.200.2.1/24
///  route 10.200.0.1 via the active uplink
/// ```
public struct NetlabPlan: Sendable, Hashable {
    /// Prefix of every namespace netlab creates (`fleetstorm netlab clean` removes the ones whose owner is gone).
    public static let prefix = "fsnl-"
    /// The hub's address and port inside its namespace.
    public static let hubAddress = "10.200.0.1"
    public static let hubPort = 1883
    public static let uplinks = [1, 2]

    /// `fsnl-<owner pid>`: unique per running netlab, and tells `clean` whether its owner still runs.
    public let id: String
    public var hubNamespace: String { id + "-hub" }
    public var fleetNamespace: String { id + "-dev" }

    public init(owner: Int32) { id = Self.prefix + String(owner) }

    /// The owner PID of a namespace this plan's kind created (nil for anyone else's namespace).
    public static func owner(ofNamespace name: String) -> Int32? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dash = rest.firstIndex(of: "-"), ["hub", "dev"].contains(String(rest[rest.index(after: dash)...]))
        else { return nil }
        return Int32(rest[..<dash])
    }

    public static func deviceAddress(uplink k: Int) -> String { "10.200.\(k).2" }
    public static func hubSideAddress(uplink k: Int) -> String { "10.200.\(k).1" }

    /// Builds both namespaces, the two uplinks, the route over uplink 1, and the nftables sets the faults fill.
    public var setup: [[String]] {
        let (h, d) = (hubNamespace, fleetNamespace)
        var out: [[String]] = [
            ["ip", "netns", "add", h], ["ip", "netns", "add", d],
            ["ip", "-n", h, "link", "set", "lo", "up"], ["ip", "-n", d, "link", "set", "lo", "up"],
            ["ip", "-n", h, "addr", "add", Self.hubAddress + "/32", "dev", "lo"],
        ]
        for k in Self.uplinks {
            out += [
                ["ip", "-n", d, "link", "add", "up\(k)", "type", "veth", "peer", "name", "hub\(k)", "netns", h],
                ["ip", "-n", d, "addr", "add", Self.deviceAddress(uplink: k) + "/24", "dev", "up\(k)"],
                ["ip", "-n", h, "addr", "add", Self.hubSideAddress(uplink: k) + "/24", "dev", "hub\(k)"],
                ["ip", "-n", d, "link", "set", "up\(k)", "up"], ["ip", "-n", h, "link", "set", "hub\(k)", "up"],
            ]
        }
        out.append(route(to: 1))
        // The hub side drops packets whose source address does not belong behind the link they came in on (strict
        // reverse-path filter), as a carrier drops a vanished address: a switched device's old connections die.
        for key in ["all", "default"] {
            out.append(["ip", "netns", "exec", h, "sysctl", "-qw", "net.ipv4.conf.\(key).rp_filter=1"])
        }
        for k in Self.uplinks {
            out.append(["ip", "netns", "exec", h, "sysctl", "-qw", "net.ipv4.conf.hub\(k).rp_filter=1"])
        }
        // Silent loss is dropped where packets ARRIVE (each side's input): the sender's stack sees nothing, as
        // with a dead radio link. A reset is answered by the hub side's kernel.
        out.append(nft(d, "add table inet fleetstorm"))
        out.append(nft(d, "add set inet fleetstorm downlinks { type ifname; }"))
        out.append(nft(d, "add chain inet fleetstorm in { type filter hook input priority 0; }"))
        out.append(nft(d, "add rule inet fleetstorm in iifname @downlinks drop"))
        out.append(nft(h, "add table inet fleetstorm"))
        out.append(nft(h, "add set inet fleetstorm downlinks { type ifname; }"))
        out.append(nft(h, "add set inet fleetstorm resetlinks { type ifname; }"))
        out.append(nft(h, "add chain inet fleetstorm in { type filter hook input priority 0; }"))
        out.append(nft(h, "add rule inet fleetstorm in iifname @downlinks drop"))
        out.append(nft(h, "add rule inet fleetstorm in iifname @resetlinks meta l4proto tcp reject with tcp reset"))
        return out
    }

    /// Removes everything: the veth links and nftables tables live in the namespaces and go with them.
    public var teardown: [[String]] {
        [["ip", "netns", "del", fleetNamespace], ["ip", "netns", "del", hubNamespace]]
    }

    /// The fleet's route to the hub over uplink `k`.
    public func route(to k: Int) -> [String] {
        [
            "ip", "-n", fleetNamespace, "route", "replace", Self.hubAddress + "/32", "via",
            Self.hubSideAddress(uplink: k), "dev", "up\(k)",
        ]
    }

    /// Uplink `k` drops every packet both ways (true) or passes them again (false).
    public func link(_ k: Int, down: Bool) -> [[String]] {
        let verb = down ? "add" : "delete"
        return [
            nft(fleetNamespace, "\(verb) element inet fleetstorm downlinks { \"up\(k)\" }"),
            nft(hubNamespace, "\(verb) element inet fleetstorm downlinks { \"hub\(k)\" }"),
        ]
    }

    /// The hub side of uplink `k` answers device packets with TCP resets (true), or not (false).
    public func reset(_ k: Int, on: Bool) -> [[String]] {
        [nft(hubNamespace, "\(on ? "add" : "delete") element inet fleetstorm resetlinks { \"hub\(k)\" }")]
    }

    /// The route moves from uplink `from` to `to`; `from`'s address is removed (its connections are stranded) and
    /// `to`'s is there (again).
    public func switchUplink(from: Int, to: Int) -> [[String]] {
        [
            ["ip", "-n", fleetNamespace, "addr", "replace", Self.deviceAddress(uplink: to) + "/24", "dev", "up\(to)"],
            route(to: to),
            ["ip", "-n", fleetNamespace, "addr", "del", Self.deviceAddress(uplink: from) + "/24", "dev", "up\(from)"],
        ]
    }

    func nft(_ namespace: String, _ command: String) -> [String] { ["ip", "netns", "exec", namespace, "nft", command] }
}

/// What netlab does at each step of a network fault, with the uplink the fleet uses at that moment.
public struct NetlabState: Sendable, Hashable {
    /// The uplink the fleet's route uses.
    public private(set) var active = 1
    public private(set) var down: Set<Int> = []
    public private(set) var resetting: Set<Int> = []

    public init() {}

    /// The commands of one fault step (an unknown pairing of kind and step does nothing).
    public mutating func commands(
        for fault: Scenario.Fault,
        step: FaultPlan.Step,
        plan: NetlabPlan,
        chosen: inout Int?
    ) -> [[String]] {
        let k = chosen ?? (fault.uplink > 0 ? fault.uplink : active)
        chosen = k
        switch (fault.kind, step) {
        case (.linkDown, .start), (.linkFlap, .pulse):
            guard down.insert(k).inserted else { return [] }
            return plan.link(k, down: true)
        case (.linkDown, .end), (.linkUp, .pulse), (.linkFlap, .release), (.linkFlap, .end):
            guard down.remove(k) != nil else { return [] }
            return plan.link(k, down: false)
        case (.linkReset, .start):
            guard resetting.insert(k).inserted else { return [] }
            return plan.reset(k, on: true)
        case (.linkReset, .end):
            guard resetting.remove(k) != nil else { return [] }
            return plan.reset(k, on: false)
        case (.switchUplink, .pulse):
            let to = fault.uplink > 0 ? fault.uplink : (active == 1 ? 2 : 1)
            guard to != active else { return [] }
            defer { active = to }
            return plan.switchUplink(from: active, to: to)
        default:
            return []
        }
    }
}
