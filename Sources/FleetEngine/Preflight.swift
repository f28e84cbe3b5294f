internal import Foundation

/// Before any connect: will the fleet fit this process's descriptors and the kernel's ephemeral ports? A plan that
/// cannot fit is refused with the limit named and what to change. Pure arithmetic over what `Limits` reports.
public enum Preflight {
    /// What the machine allows.
    public struct Limits: Sendable, Hashable {
        /// Descriptors per process (the soft limit after raising it to the hard one).
        public var descriptors: Int
        /// net.ipv4.ip_local_port_range, both ends included.
        public var portRange: ClosedRange<Int>

        public init(descriptors: Int, portRange: ClosedRange<Int>) {
            self.descriptors = descriptors
            self.portRange = portRange
        }

        /// Ports one (source address, hub address) pair can use.
        public var portsPerAddress: Int { portRange.count }

        /// This machine's limits (the descriptor soft limit is raised to the hard one first).
        public static func current() -> Limits {
            Limits(descriptors: DescriptorBudget.raiseLimit(), portRange: ephemeralPortRange())
        }

        static func ephemeralPortRange() -> ClosedRange<Int> {
            guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
            else { return 32768...60999 }
            let v = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
            guard v.count == 2, v[0] <= v[1] else { return 32768...60999 }
            return v[0]...v[1]
        }
    }

    /// The share of its ports a source address may fill before the kernel's port search slows down badly.
    public static let portFill = 0.9

    /// One process's plan: `devices` connections spread over `sourceAddresses` (0: the kernel picks one address).
    public static func check(
        devices: Int,
        sourceAddresses: Int,
        embeddedHub: Bool,
        proxy: Bool,
        limits: Limits
    ) throws(FleetRunError) {
        let needed = DescriptorBudget.needed(devices: devices, embeddedHub: embeddedHub, proxy: proxy)
        if needed > limits.descriptors {
            let perProcess = max(1, limits.descriptors - DescriptorBudget.overhead)
            let processes = (devices + perProcess - 1) / perProcess
            throw FleetRunError(
                .descriptorLimit,
                "\(devices) devices need \(needed) descriptors in one process, the limit is \(limits.descriptors); "
                    + (embeddedHub || proxy
                        ? "run the hub separately (fleetstorm hub --workers N, then --hub URL) and split the fleet: "
                        : "split the fleet: ")
                    + "--processes \(processes) (or \(processes) × --shard I/\(processes))"
            )
        }
        let addresses = max(1, sourceAddresses)
        let perAddress = (devices + addresses - 1) / addresses
        let usable = Int(Double(limits.portsPerAddress) * portFill)
        if perAddress > usable {
            let more = (devices + usable - 1) / usable
            throw FleetRunError(
                .portLimit,
                "\(devices) devices over \(addresses) source address\(addresses == 1 ? "" : "es") need \(perAddress) "
                    + "ephemeral ports per address; the kernel has \(limits.portsPerAddress) "
                    + "(net.ipv4.ip_local_port_range \(limits.portRange.lowerBound)–\(limits.portRange.upperBound), "
                    + "fill ≤ \(Int(portFill * 100)) %): give at least \(more) addresses in fleet.source_addresses "
                    + "(e.g. 127.0.0.2-127.0.0.\(1 + more)) or more shards"
            )
        }
    }
}
