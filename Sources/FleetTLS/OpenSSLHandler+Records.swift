internal import COpenSSL
public import NIOCore

/// Asks a TLS handler to roll its write keys now (a TLS 1.3 KeyUpdate), and the peer to roll its own when
/// `requestingPeer`: send it with `channel.triggerUserOutboundEvent`. Fails on TLS 1.2 or before the handshake.
public struct TLSKeyUpdate: Sendable, Hashable {
    public var requestingPeer: Bool
    public init(requestingPeer: Bool) { self.requestingPeer = requestingPeer }
}

extension OpenSSLHandler {
    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let update = event as? TLSKeyUpdate else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        guard state == .active, let wire else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if let records {
            do {
                try wire.writeOutbound(reserving: 32) { (out) throws(OpenSSLError) in
                    try records.updateKeys(requestingPeer: update.requestingPeer, into: &out)
                }
            } catch {
                promise?.fail(error)
                fail(context, error)
                return
            }
        } else if let ssl {
            let kind = update.requestingPeer ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED
            ERR_clear_error()
            guard SSL_key_update(ssl, kind) == 1, SSL_do_handshake(ssl) == 1 else {
                ERR_clear_error()
                promise?.fail(OpenSSLError(.handshake, "a key update needs TLS 1.3"))
                return
            }
        }
        sendCiphertext(context)
        promise?.succeed()
    }

    /// After a TLS 1.3 handshake: the traffic keys into our record layer, OpenSSL's connection object freed. Stays on
    /// OpenSSL when the version, the suite or a secret says otherwise, or when OpenSSL holds bytes it has read.
    func takeOverRecords() {
        defer { secrets = nil }
        guard let ssl, let secrets, SSL_version(ssl) == TLS1_3_VERSION else { return }
        _ = SSL_set_ex_data(ssl, 0, nil)
        guard SSL_has_pending(ssl) == 0, let cipher = SSL_get_current_cipher(ssl),
            let suite = TLS13Suite.with(id: SSL_CIPHER_get_protocol_id(cipher)),
            let client = secrets.client.flatMap({ TrafficKeys(secret: $0, suite: suite) }),
            let server = secrets.server.flatMap({ TrafficKeys(secret: $0, suite: suite) })
        else { return }
        records =
            tls.isServer
            ? TLS13Records(suite: suite, read: client, write: server)
            : TLS13Records(suite: suite, read: server, write: client)
        SSL_free(ssl)
        self.ssl = nil
    }

    /// Opens the peer's records with our record layer: the application data goes up in one buffer; a KeyUpdate's
    /// answer, or a fatal alert, goes out.
    func openRecords(_ context: ChannelHandlerContext, _ bytes: ByteBuffer) {
        guard let records, let wire else { return }
        var plaintext = context.channel.allocator.buffer(capacity: min(max(bytes.readableBytes, 256), 16_640))
        let ending: TLS13Records.Ending
        do {
            // Answers (a KeyUpdate's, or the fatal alert of a failure) go out after whatever waits already.
            ending = try wire.writeOutbound(reserving: 0) { (answers) throws(OpenSSLError) in
                try records.open(bytes, into: &plaintext, answers: &answers)
            }
        } catch {
            sendCiphertext(context)
            fail(context, error)
            return
        }
        if plaintext.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(plaintext)) }
        guard state == .active else { return }
        if wire.outbound != nil { sendCiphertext(context) }
        if ending == .closeNotify {
            sendCloseNotify(context)
            state = .closed
            failWaiting(ChannelError.ioOnClosedChannel)
            context.close(promise: nil)
        }
    }
}
