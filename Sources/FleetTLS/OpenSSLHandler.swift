internal import COpenSSL
public import NIOCore
internal import NIOTLS

/// TLS on the system's OpenSSL as a NIO handler, plaintext above and ciphertext below: a device's (client) or the
/// hub's (server), as its context says. The handshake starts when the channel is active (a client sends SNI and
/// checks the certificate's name against `serverName`); writes before it is done wait;
/// `TLSUserEvent.handshakeCompleted` is fired when it is. Closing sends close_notify and does not wait for the peer's
/// (as the SDKs' TLS stacks and IoT Hub do). The peer's close_notify closes the channel; a close without one is
/// reported as `OpenSSLError.uncleanShutdown`. Buffers are held only while bytes are in them (`TLSWire`,
/// `SSL_MODE_RELEASE_BUFFERS`). Once a TLS 1.3 handshake is done, the handler frees OpenSSL's connection object and
/// protects records itself with the traffic keys alone (`TLS13Records`): an idle connection then keeps its keys,
/// not OpenSSL's 19 KiB of state. TLS 1.2 and the CCM suites stay on OpenSSL throughout.
public final class OpenSSLHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    enum State {
        case idle, handshaking, active
        /// We closed, the peer closed, or TLS failed: nothing more goes through.
        case closed
    }

    let tls: OpenSSLContext
    private let serverName: String?
    var ssl: OpaquePointer?
    var wire: TLSWire?
    /// While a handshake runs: the traffic secrets OpenSSL's key log hands out. After a TLS 1.3 handshake: our record
    /// layer, and `ssl` is gone.
    var secrets: TLS13Secrets?
    var records: TLS13Records?
    var state = State.idle
    /// Writes made before the handshake finished, and whether a flush was asked for meanwhile.
    private var waiting: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushWaiting = false
    /// Promises of writes encrypted since the last flush.
    private var unflushed: [EventLoopPromise<Void>] = []

    /// A client certificate to present (X.509 devices; clients only).
    private let identity: OpenSSLIdentity?

    /// A client with a client context, a server with a server context. `serverName` (clients only): the name sent
    /// as SNI and required in the server's certificate (an IP address is checked against the certificate's IP
    /// entries and sends no SNI); nil checks no name. `identity` (clients only): the certificate and key presented
    /// when the server asks for one.
    public init(context: OpenSSLContext, serverName: String? = nil, identity: OpenSSLIdentity? = nil) {
        self.tls = context
        self.serverName = context.isServer ? nil : serverName
        self.identity = context.isServer ? nil : identity
    }

    deinit { if let ssl { SSL_free(ssl) } }

    /// Bytes of buffer the handler holds between reads and writes (0 once every byte is passed on).
    public var heldBufferBytes: Int {
        (wire?.inbound?.capacity ?? 0) + (wire?.outbound?.capacity ?? 0) + waiting.reduce(0) { $0 + $1.0.capacity }
            + (records?.heldBytes ?? 0)
    }

    /// True once the handler runs the record layer itself (TLS 1.3 after the handshake): OpenSSL's connection
    /// object is freed.
    public var protectsRecordsItself: Bool { records != nil }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        release()
        failWaiting(ChannelError.ioOnClosedChannel)
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let wasOpen = state == .handshaking || state == .active
        state = .closed
        failWaiting(ChannelError.ioOnClosedChannel)
        // The bytes in flight go now. The SSL object is freed when the handler is removed, not here: a handler after
        // us may close the channel from inside a read we pass on, and our frames further up the stack still use it.
        wire?.inbound = nil
        wire?.outbound = nil
        if wasOpen {
            context.fireErrorCaught(OpenSSLError(.uncleanShutdown, "the connection closed without close_notify"))
        }
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let wire, state == .handshaking || state == .active else { return }
        if records != nil {
            openRecords(context, unwrapInboundIn(data))
            return
        }
        wire.received(unwrapInboundIn(data))
        if state == .handshaking { handshake(context) }
        guard state == .active else { return }
        if records != nil {
            // The handshake just finished: what arrived after its last record is ours to open.
            if let rest = wire.inbound {
                wire.inbound = nil
                openRecords(context, rest)
            }
        } else {
            readPlaintext(context)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch state {
        case .idle, .handshaking:
            waiting.append((buffer, promise))
        case .active:
            encrypt(context, buffer, promise: promise)
        case .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        switch state {
        case .idle, .handshaking: flushWaiting = true
        case .active: sendCiphertext(context)
        case .closed: break
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all || mode == .output, state == .active {
            // close_notify, then the socket: the peer's answer is not waited for.
            sendCloseNotify(context)
        }
        if mode == .all || mode == .output {
            state = .closed
            failWaiting(ChannelError.ioOnClosedChannel)
        }
        context.close(mode: mode, promise: promise)
    }

    // MARK: - TLS

    private func start(_ context: ChannelHandlerContext) {
        guard state == .idle else { return }
        let wire = TLSWire(allocator: context.channel.allocator)
        guard let ssl = SSL_new(tls.ctx), let bio = TLSWire.makeBIO(for: wire) else {
            fail(context, OpenSSLError(.configuration, "cannot create a TLS connection"))
            return
        }
        SSL_set_bio(ssl, bio, bio)
        self.ssl = ssl
        self.wire = wire
        if tls.protectsRecordsItself {
            let secrets = TLS13Secrets()
            self.secrets = secrets
            _ = SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(secrets).toOpaque())
        }
        if tls.isServer {
            SSL_set_accept_state(ssl)
        } else {
            if let serverName, !serverName.isEmpty {
                if Self.isIPAddress(serverName) {
                    _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName)
                } else {
                    _ = fleet_SSL_set_tlsext_host_name(ssl, serverName)
                    _ = SSL_set1_host(ssl, serverName)
                }
            }
            if let identity, !identity.use(on: ssl) {
                fail(context, OpenSSLError(.configuration, "cannot present the device's certificate"))
                return
            }
            SSL_set_connect_state(ssl)
        }
        state = .handshaking
        handshake(context)
    }

    private func handshake(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        let error = result == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, result)
        // Whatever OpenSSL wrote goes out now: the next flight, or the alert of a failure.
        sendCiphertext(context)
        switch error {
        case SSL_ERROR_NONE:
            state = .active
            if tls.isServer, let peer = TLSPeerCertificate.of(ssl) { context.fireUserInboundEventTriggered(peer) }
            if state == .active, tls.protectsRecordsItself { takeOverRecords() }
            context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
            let writes = waiting
            waiting = []
            for (buffer, promise) in writes { encrypt(context, buffer, promise: promise) }
            if flushWaiting || !writes.isEmpty {
                flushWaiting = false
                sendCiphertext(context)
            }
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            break
        default:
            fail(context, OpenSSLError.current(ssl, step: "handshake", code: error))
        }
    }

    private func encrypt(_ context: ChannelHandlerContext, _ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        if let records, let wire {
            do {
                try wire.writeOutbound(reserving: buffer.readableBytes + 22) { (out) throws(OpenSSLError) in
                    try records.seal(buffer, into: &out)
                }
            } catch {
                wire.outbound = nil
                promise?.fail(error)
                fail(context, error)
                return
            }
            if let promise { unflushed.append(promise) }
            return
        }
        guard let ssl else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        // SSL_write may take one record at a time: write until every byte is in.
        var rest = buffer
        while rest.readableBytes > 0 {
            ERR_clear_error()
            let written = rest.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32(clamping: $0.count)) }
            guard written > 0 else {
                let error = OpenSSLError.current(ssl, step: "write", code: SSL_get_error(ssl, written))
                promise?.fail(error)
                fail(context, error)
                return
            }
            rest.moveReaderIndex(forwardBy: Int(written))
        }
        if let promise { unflushed.append(promise) }
    }

    /// Decrypts everything that arrived: one plaintext buffer per read, no bigger than the ciphertext it came in.
    private func readPlaintext(_ context: ChannelHandlerContext) {
        guard let ssl, let wire else { return }
        // Plaintext is never longer than the ciphertext it came in; the buffer grows if OpenSSL held more back.
        var plaintext = context.channel.allocator.buffer(
            capacity: min(max(wire.inbound?.readableBytes ?? 0, 256), 16_640)
        )
        var outcome = SSL_ERROR_NONE
        while state == .active {
            ERR_clear_error()
            var result: Int32 = 0
            plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: 256) { out in
                result = SSL_read(ssl, out.baseAddress, Int32(clamping: out.count))
                return Int(max(result, 0))
            }
            guard result > 0 else {
                outcome = SSL_get_error(ssl, result)
                break
            }
        }
        if plaintext.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(plaintext)) }
        switch outcome {
        case SSL_ERROR_NONE, SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            // Reading may have written (a TLS 1.3 key update's answer).
            sendCiphertext(context)
            // SSL_MODE_RELEASE_BUFFERS frees the read buffer after application data but keeps it after a handshake
            // message (TLS 1.3's session tickets, right after the handshake): 16 KiB per idle device until freed
            // here. OpenSSL frees nothing while a partial record waits in it.
            _ = SSL_free_buffers(ssl)
        case SSL_ERROR_ZERO_RETURN:
            // The peer's close_notify: answer it and close.
            sendCloseNotify(context)
            state = .closed
            failWaiting(ChannelError.ioOnClosedChannel)
            context.close(promise: nil)
        default:
            fail(context, OpenSSLError.current(ssl, step: "read", code: outcome))
        }
    }

    /// Passes OpenSSL's ciphertext on, with the promises of the writes it carries.
    func sendCiphertext(_ context: ChannelHandlerContext) {
        defer { unflushed.removeAll(keepingCapacity: true) }
        guard let bytes = wire?.takeOutbound() else {
            for promise in unflushed { promise.succeed() }
            return
        }
        let promise: EventLoopPromise<Void>?
        switch unflushed.count {
        case 0: promise = nil
        case 1: promise = unflushed[0]
        default:
            let all = context.eventLoop.makePromise(of: Void.self)
            let promises = unflushed
            all.futureResult.whenComplete { result in for p in promises { p.completeWith(result) } }
            promise = all
        }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
    }

    func sendCloseNotify(_ context: ChannelHandlerContext) {
        if let records, let wire {
            wire.writeOutbound(reserving: 24) { records.sealAlert(level: 1, description: 0, into: &$0) }
            sendCiphertext(context)
            return
        }
        guard let ssl else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
        sendCiphertext(context)
    }

    func fail(_ context: ChannelHandlerContext, _ error: OpenSSLError) {
        guard state != .closed else { return }
        state = .closed
        failWaiting(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    func failWaiting(_ error: any Error) {
        let writes = waiting
        let promises = unflushed
        waiting = []
        unflushed = []
        for (_, promise) in writes { promise?.fail(error) }
        for promise in promises { promise.fail(error) }
    }

    private func release() {
        if let ssl { SSL_free(ssl) }
        ssl = nil
        wire = nil
        secrets = nil
        records = nil
    }

    /// True for an IPv4 or IPv6 literal (checked against the certificate's IP entries; never sent as SNI).
    public static func isIPAddress(_ name: String) -> Bool {
        name.contains(":") || (name.split(separator: ".").count == 4 && name.allSatisfy { $0 == "." || $0.isNumber })
    }
}
