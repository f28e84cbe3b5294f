internal import NIOCore

/// Source addresses for big fleets on one machine. Each (source address, hub address) pair has its own ~28,000
/// ephemeral ports, and the kernel's port search slows down as one pair's ports fill up (measured: 19,000 connects
/// from one address took 5.5× the time of 10,000). Spreading devices over several loopback sources keeps every pair
/// sparse.
enum SourcePool {
    /// Devices per source address before another one is added.
    static let devicesPerAddress = 4_000

    /// For a hub on 127.0.0.0/8 and more than `devicesPerAddress` devices: 127.0.0.1, 127.0.0.2, ... (every
    /// 127.x address is local on Linux). Otherwise none (the kernel's own choice).
    static func loopback(devices: Int, hub: SocketAddress) -> [SocketAddress] {
        guard devices > devicesPerAddress, case .v4 = hub, hub.ipAddress?.hasPrefix("127.") == true else { return [] }
        let count = min(250, (devices + devicesPerAddress - 1) / devicesPerAddress)
        return (1...count).compactMap { try? SocketAddress(ipAddress: "127.0.0.\($0)", port: 0) }
    }
}
