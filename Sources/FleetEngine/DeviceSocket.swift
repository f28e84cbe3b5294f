internal import NIOCore
internal import NIOPosix

/// What every client socket of the swarm gets before it connects: set on the socket in the channel initializer, not
/// as bootstrap options. A bootstrap applies its options through a chain of futures on every connect (6 % of the
/// client's samples in a 10,000-device storm, 2026-12-07); here they are a few `setsockopt` calls.
struct DeviceSocket: Sendable {
    /// Bind the source address without a port: the kernel picks the port at connect time from the whole 4-tuple,
    /// so each source address has its own port space (IP_BIND_ADDRESS_NO_PORT, Linux 4.2). Only for IPv4 sources.
    let bindWithoutPort: Bool

    init(sourceAddresses: [SocketAddress]) {
        bindWithoutPort =
            !sourceAddresses.isEmpty && sourceAddresses.allSatisfy { if case .v4 = $0 { true } else { false } }
    }

    /// `IP_BIND_ADDRESS_NO_PORT` (level IPPROTO_IP).
    private static let bindAddressNoPort = ChannelOptions.Types.SocketOption(
        level: .init(rawValue: 0),
        name: .init(rawValue: 24)
    )

    /// NIO keeps each channel's receive buffer between reads: a device mostly reads 2–4 byte answers (CONNACK,
    /// PUBACK, PINGRESP), so it starts at the smallest size and grows only for larger ones (C2D).
    private static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 64, maximum: 65536)

    /// Sets the socket's options on `channel` (on its loop, before it is registered).
    func configure(_ channel: any Channel) throws {
        guard let options = channel.syncOptions else { throw ChannelError.operationUnsupported }
        try options.setOption(.socketOption(.so_reuseaddr), value: 1)
        try options.setOption(.tcpOption(.tcp_nodelay), value: 1)
        try options.setOption(.recvAllocator, value: Self.receiveBuffers)
        if bindWithoutPort { try options.setOption(Self.bindAddressNoPort, value: 1) }
    }

    /// Ends a channel initializer: binds `source` when there is one (after `configure`, as a bootstrap would bind
    /// after its options).
    func bind(_ channel: any Channel, to source: SocketAddress?) -> EventLoopFuture<Void> {
        guard let source else { return channel.eventLoop.makeSucceededVoidFuture() }
        return channel.bind(to: source)
    }
}
