internal import FleetCore
internal import NIOCore

/// Source addresses for big fleets on one machine. Each (source address, hub address) pair has its own ~28,000
/// ephemeral ports, and the kernel's port search slows down as one pair's ports fill up (measured: 19,000 connects
/// from one address took 5.5× the time of 10,000). Spreading devices over several loopback sources keeps every pair
/// sparse.
public enum SourcePool {
    /// Devices per source address before another one is added.
    public static let devicesPerAddress = 4_000

    /// How many addresses `loopback` gives `devices` devices (1: the kernel's own choice).
    public static func count(devices: Int) -> Int {
        devices > devicesPerAddress ? min(250, (devices + devicesPerAddress - 1) / devicesPerAddress) : 1
    }

    /// For a hub on 127.0.0.0/8 and more than `devicesPerAddress` devices: 127.0.S.1, 127.0.S.2, ... where S is the
    /// shard's index (0 unsharded), so shards on one host never share a source address (every 127.x address is
    /// local on Linux). Otherwise none (the kernel's own choice).
    static func loopback(devices: Int, hub: SocketAddress, shard: Shard? = nil) -> [SocketAddress] {
        guard devices > devicesPerAddress, case .v4 = hub, hub.ipAddress?.hasPrefix("127.") == true else { return [] }
        let subnet = (shard?.index ?? 0) % 256
        return (1...count(devices: devices)).compactMap {
            try? SocketAddress(ipAddress: "127.0.\(subnet).\($0)", port: 0)
        }
    }
}
