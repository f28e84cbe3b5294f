internal import NIOCore
internal import NIOPosix

/// What every client socket of the swarm gets before it connects: set on the socket in the channel initializer, not
/// as bootstrap options. A bootstrap applies its options through a chain of futures on every connect (6 % of the
/// client's samples in a 10,000-device storm, 2026-12-07); here they are a few `setsockopt` calls.
struct DeviceSocket: Sendable {
    /// The addresses connects are made from, in turn (none: the kernel's choice).
    let sources: [SocketAddress]
    /// Bind the source address without a port: the kernel picks the port at connect time from the whole 4-tuple,
    /// so each source address has its own port space (IP_BIND_ADDRESS_NO_PORT, Linux 4.2). Only for IPv4 sources.
    let bindWithoutPort: Bool

    init(sourceAddresses: [SocketAddress]) {
        sources = sourceAddresses
        bindWithoutPort =
            !sourceAddresses.isEmpty && sourceAddresses.allSatisfy { if case .v4 = $0 { true } else { false } }
    }

    /// The source address of connect number `turn` (a device's or a pooled connection's count of connects, offset
    /// by its index, so a reconnect comes from another "network"); nil without source addresses.
    func source(turn: Int) -> SocketAddress? {
        sources.isEmpty ? nil : sources[turn % sources.count]
    }

    /// `IP_BIND_ADDRESS_NO_PORT` (level IPPROTO_IP).
    private static let bindAddressNoPort = ChannelOptions.Types.SocketOption(
        level: .init(rawValue: 0),
        name: .init(rawValue: 24)
    )

    /// NIO keeps each channel's receive buffer between reads: a device mostly reads 2–4 byte answers (CONNACK,
    /// PUBACK, PINGRESP), so it starts at the smallest size and grows only for larger ones (C2D).
    private static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 64, maximum: 65536)

    /// A channel initializer's work (on the channel's loop, before it is registered): the socket's options, then
    /// `handlers` (which add the pipeline), then the bind to `source` when there is one, as a bootstrap would bind
    /// after its options. A failure in either fails the connect.
    func initialize(
        _ channel: any Channel,
        source: SocketAddress?,
        handlers: () throws -> Void
    ) -> EventLoopFuture<Void> {
        do {
            guard let options = channel.syncOptions else { throw ChannelError.operationUnsupported }
            try options.setOption(.socketOption(.so_reuseaddr), value: 1)
            try options.setOption(.tcpOption(.tcp_nodelay), value: 1)
            try options.setOption(.recvAllocator, value: Self.receiveBuffers)
            if bindWithoutPort { try options.setOption(Self.bindAddressNoPort, value: 1) }
            try handlers()
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        guard let source else { return channel.eventLoop.makeSucceededVoidFuture() }
        return channel.bind(to: source)
    }
}
