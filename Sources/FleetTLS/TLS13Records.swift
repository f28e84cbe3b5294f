internal import COpenSSL
internal import NIOCore

/// TLS 1.3's record layer after the handshake (RFC 8446 §5), run by us so that a connection keeps only its traffic
/// keys: OpenSSL's connection object (8 KiB at `SSL_new`, 19 KiB after a handshake) is freed once the handshake is
/// done. Opens the peer's records (application data, alerts, post-handshake messages: session tickets are dropped, a
/// KeyUpdate rolls the keys and is answered when asked), seals ours. Holds a buffer only while a record is
/// incomplete. Every failure is an `OpenSSLError` and a fatal alert to send; no input traps.
final class TLS13Records {
    /// What a batch of the peer's records asked of the connection beyond its data.
    enum Ending: Equatable {
        /// Nothing: more may come.
        case open
        /// The peer's close_notify: nothing after it was read.
        case closeNotify
    }

    private let suite: TLS13Suite
    private var read: TrafficKeys
    private var write: TrafficKeys
    /// Bytes of a record that has not fully arrived (nil while none).
    private var partial: ByteBuffer?
    /// A post-handshake message split across records (empty while none).
    private var handshake: [UInt8] = []

    /// Plaintext bytes per record (2^14) and the most a protected record may add to them (RFC 8446 §5.2).
    static let maxPlaintext = 16_384
    static let maxCiphertext = maxPlaintext + 256
    /// Records sealed under one AES-GCM key before we roll it (RFC 8446 §5.5 allows 2^24.5).
    static let recordsPerKey: UInt64 = 1 << 24

    init(suite: TLS13Suite, read: TrafficKeys, write: TrafficKeys) {
        self.suite = suite
        self.read = read
        self.write = write
    }

    /// Bytes held between reads (an incomplete record's).
    var heldBytes: Int { (partial?.capacity ?? 0) + handshake.capacity }

    // MARK: - Sealing

    /// Seals `plaintext` as application data, in records of at most 2^14 bytes, onto `out`.
    func seal(_ plaintext: ByteBuffer, into out: inout ByteBuffer) throws(OpenSSLError) {
        var rest = plaintext
        while rest.readableBytes > 0 {
            let count = min(rest.readableBytes, Self.maxPlaintext)
            let sealed = rest.withUnsafeReadableBytes {
                sealRecord(type: 23, UnsafeRawBufferPointer(rebasing: $0.prefix(count)), into: &out)
            }
            guard sealed else { throw OpenSSLError(.handshake, "write: cannot protect a record") }
            rest.moveReaderIndex(forwardBy: count)
            try rollWriteKeyIfWornOut(into: &out)
        }
    }

    /// Seals an alert (close_notify is level 1, description 0; fatal alerts are level 2).
    func sealAlert(level: UInt8, description: UInt8, into out: inout ByteBuffer) {
        let alert = [level, description]
        _ = alert.withUnsafeBytes { sealRecord(type: 21, $0, into: &out) }
    }

    private func rollWriteKeyIfWornOut(into out: inout ByteBuffer) throws(OpenSSLError) {
        guard write.sequence >= Self.recordsPerKey else { return }
        try sendKeyUpdate(requestingPeer: false, into: &out)
    }

    /// Sends a KeyUpdate under the current keys (asking the peer to update its own when `requestingPeer`), then
    /// seals with the next ones.
    func updateKeys(requestingPeer: Bool, into out: inout ByteBuffer) throws(OpenSSLError) {
        try sendKeyUpdate(requestingPeer: requestingPeer, into: &out)
    }

    private func sendKeyUpdate(requestingPeer: Bool, into out: inout ByteBuffer) throws(OpenSSLError) {
        let message: [UInt8] = [24, 0, 0, 1, requestingPeer ? 1 : 0]
        let sealed = message.withUnsafeBytes { sealRecord(type: 22, $0, into: &out) }
        guard sealed, let next = write.updated(suite: suite) else {
            throw OpenSSLError(.handshake, "write: cannot update the traffic keys")
        }
        write = next
    }

    /// One record: header, then `content` and its inner type sealed with the write key. False when libcrypto fails
    /// (nothing is then appended that could be sent as a valid record: the connection is failed by the caller).
    private func sealRecord(type: UInt8, _ content: UnsafeRawBufferPointer, into out: inout ByteBuffer) -> Bool {
        guard write.sequence < UInt64.max, let ctx = EVP_CIPHER_CTX_new() else { return false }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let length = content.count + 1 + TLS13Suite.tagLength
        let header: [UInt8] = [23, 3, 3, UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
        let nonce = write.nonce()
        var sealed = false
        let start = out.writerIndex
        out.writeBytes(header)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { target in
            guard let base = target.baseAddress, EVP_EncryptInit_ex2(ctx, suite.cipher, write.key, nonce, nil) == 1
            else { return 0 }
            var n: Int32 = 0
            var written = 0
            var innerType = type
            guard EVP_EncryptUpdate(ctx, nil, &n, header, 5) == 1,
                content.isEmpty
                    || EVP_EncryptUpdate(ctx, base, &n, content.baseAddress, Int32(clamping: content.count)) == 1
            else { return 0 }
            written = content.isEmpty ? 0 : Int(n)
            guard EVP_EncryptUpdate(ctx, base + written, &n, &innerType, 1) == 1 else { return 0 }
            written += Int(n)
            guard EVP_EncryptFinal_ex(ctx, base + written, &n) == 1 else { return 0 }
            written += Int(n)
            guard written == length - TLS13Suite.tagLength,
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, Int32(clamping: TLS13Suite.tagLength), base + written)
                    == 1
            else { return 0 }
            sealed = true
            return length
        }
        guard sealed else {
            out.moveWriterIndex(to: start)
            return false
        }
        write.sequence += 1
        return true
    }

    // MARK: - Opening

    /// Opens every complete record in `bytes` (after any held back before), appending application data to
    /// `plaintext`; answers the peer asks for (a KeyUpdate's) are sealed onto `answers`. Stops at close_notify.
    /// Throws the failure, with the fatal alert already sealed onto `answers`.
    func open(
        _ bytes: ByteBuffer,
        into plaintext: inout ByteBuffer,
        answers: inout ByteBuffer
    ) throws(OpenSSLError) -> Ending {
        var input: ByteBuffer
        if var held = partial {
            var more = bytes
            held.writeBuffer(&more)
            input = held
            partial = nil
        } else {
            input = bytes
        }
        while input.readableBytes >= 5 {
            guard let type = input.getInteger(at: input.readerIndex, as: UInt8.self),
                let length = input.getInteger(at: input.readerIndex + 3, as: UInt16.self).map(Int.init)
            else { break }
            guard type == 23 else {
                // A peer that lost our keys may answer in the clear: a 2-byte alert record.
                if type == 21, length == 2, input.readableBytes >= 7,
                    let description = input.getInteger(at: input.readerIndex + 6, as: UInt8.self)
                {
                    throw failure(Self.alertText(description), alert: nil, answers: &answers)
                }
                throw failure("a record of type \(type) after the handshake", alert: 10, answers: &answers)
            }
            guard length > TLS13Suite.tagLength, length <= Self.maxCiphertext else {
                throw failure("a record of \(length) bytes", alert: 22, answers: &answers)
            }
            guard input.readableBytes >= 5 + length else { break }
            let ending = try openRecord(&input, length: length, into: &plaintext, answers: &answers)
            if ending == .closeNotify { return .closeNotify }
        }
        if input.readableBytes > 0 {
            // Keep only what is left, not the whole read's buffer.
            var held = ByteBufferAllocator().buffer(capacity: input.readableBytes)
            held.writeBuffer(&input)
            partial = held
        }
        return .open
    }

    private func openRecord(
        _ input: inout ByteBuffer,
        length: Int,
        into plaintext: inout ByteBuffer,
        answers: inout ByteBuffer
    ) throws(OpenSSLError) -> Ending {
        guard read.sequence < UInt64.max, let ctx = EVP_CIPHER_CTX_new() else {
            throw failure("cannot open a record", alert: 80, answers: &answers)
        }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let nonce = read.nonce()
        let bodyLength = length - TLS13Suite.tagLength
        let start = plaintext.writerIndex
        var innerType: UInt8 = 0
        var contentLength = -1
        input.withUnsafeReadableBytes { record in
            guard let recordBase = record.baseAddress else { return }
            let header = UnsafeRawBufferPointer(rebasing: record.prefix(5))
            var tag = Array(record[(5 + bodyLength)..<(5 + length)])
            plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: bodyLength) { target in
                guard let base = target.baseAddress,
                    EVP_DecryptInit_ex2(ctx, suite.cipher, read.key, nonce, nil) == 1
                else { return 0 }
                var n: Int32 = 0
                guard EVP_DecryptUpdate(ctx, nil, &n, header.baseAddress, 5) == 1,
                    EVP_DecryptUpdate(ctx, base, &n, recordBase + 5, Int32(clamping: bodyLength)) == 1,
                    Int(n) == bodyLength,
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, Int32(clamping: TLS13Suite.tagLength), &tag) == 1,
                    EVP_DecryptFinal_ex(ctx, base + bodyLength, &n) == 1
                else { return 0 }
                // The inner type is the last non-zero byte; zeros after it are padding.
                var end = bodyLength
                while end > 0, base.load(fromByteOffset: end - 1, as: UInt8.self) == 0 { end -= 1 }
                guard end > 0 else { return 0 }
                innerType = base.load(fromByteOffset: end - 1, as: UInt8.self)
                contentLength = end - 1
                return contentLength
            }
        }
        guard contentLength >= 0 else {
            plaintext.moveWriterIndex(to: start)
            throw failure("a record that does not decrypt", alert: 20, answers: &answers)
        }
        input.moveReaderIndex(forwardBy: 5 + length)
        read.sequence += 1
        switch innerType {
        case 23:
            return .open
        case 21:
            let alert = plaintext.getBytes(at: start, length: contentLength) ?? []
            plaintext.moveWriterIndex(to: start)
            guard alert.count == 2 else { throw failure("a malformed alert", alert: 50, answers: &answers) }
            if alert[1] == 0 { return .closeNotify }
            // user_canceled is a warning that a close follows; every other alert ends the connection.
            if alert[1] == 90 { return .open }
            throw failure(Self.alertText(alert[1]), alert: nil, answers: &answers)
        case 22:
            let message = plaintext.getBytes(at: start, length: contentLength) ?? []
            plaintext.moveWriterIndex(to: start)
            try received(handshake: message, answers: &answers)
            return .open
        default:
            plaintext.moveWriterIndex(to: start)
            throw failure("a record of inner type \(innerType)", alert: 10, answers: &answers)
        }
    }

    /// Post-handshake messages (§4.6): session tickets are dropped (devices never resume), a KeyUpdate rolls the
    /// read key and, when asked, ours; anything else is unexpected (we offer no post-handshake authentication).
    private func received(handshake bytes: [UInt8], answers: inout ByteBuffer) throws(OpenSSLError) {
        guard !bytes.isEmpty else { throw failure("an empty handshake record", alert: 10, answers: &answers) }
        handshake += bytes
        guard handshake.count <= 1 << 17 else {
            throw failure("a post-handshake message over 128 KiB", alert: 10, answers: &answers)
        }
        while handshake.count >= 4 {
            let length = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
            guard handshake.count >= 4 + length else { return }
            let type = handshake[0]
            let body = handshake[4..<(4 + length)]
            handshake.removeFirst(4 + length)
            switch type {
            case 4:
                continue
            case 24:
                // A key change ends the record: nothing may follow it under the old key.
                guard body.count == 1, let request = body.first, request <= 1, handshake.isEmpty else {
                    throw failure("a malformed KeyUpdate", alert: 47, answers: &answers)
                }
                guard let next = read.updated(suite: suite) else {
                    throw failure("cannot update the traffic keys", alert: 80, answers: &answers)
                }
                read = next
                if request == 1 { try sendKeyUpdate(requestingPeer: false, into: &answers) }
            default:
                throw failure("a post-handshake message of type \(type)", alert: 10, answers: &answers)
            }
        }
        if handshake.isEmpty { handshake = [] }
    }

    /// The error to fail with; `alert` (a fatal one's description) is sealed onto `answers` for the peer.
    private func failure(_ what: String, alert: UInt8?, answers: inout ByteBuffer) -> OpenSSLError {
        partial = nil
        handshake = []
        if let alert { sealAlert(level: 2, description: alert, into: &answers) }
        return OpenSSLError(.handshake, "read: \(what)")
    }

    static func alertText(_ description: UInt8) -> String {
        let names: [UInt8: String] = [
            10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow", 40: "handshake_failure",
            47: "illegal_parameter", 50: "decode_error", 51: "decrypt_error", 80: "internal_error",
        ]
        return "the peer's alert \(names[description] ?? "number \(description)")"
    }
}
