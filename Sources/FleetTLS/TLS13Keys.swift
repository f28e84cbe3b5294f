internal import COpenSSL

/// A TLS 1.3 cipher suite whose records the handler protects itself once the handshake is done (RFC 8446 §B.4):
/// the AEAD and the hash of its key schedule, fetched from libcrypto once per process.
struct TLS13Suite: @unchecked Sendable {
    /// The suite's IANA number (0x1301 …).
    let id: UInt16
    /// `EVP_CIPHER*` and `EVP_MD*`, process-wide and never freed.
    let cipher: OpaquePointer
    let digest: OpaquePointer
    let keyLength: Int
    let hashLength: Int

    /// Every AEAD tag in TLS 1.3's suites is 16 bytes, every per-record nonce 12.
    static let tagLength = 16
    static let ivLength = 12

    /// The suite with IANA number `id`, nil for one we leave to OpenSSL (the CCM suites) or one libcrypto lacks.
    static func with(id: UInt16) -> TLS13Suite? {
        switch id {
        case 0x1301: aes128
        case 0x1302: aes256
        case 0x1303: chacha
        default: nil
        }
    }

    private static let aes128 = make(0x1301, "AES-128-GCM", 16, EVP_sha256(), 32)
    private static let aes256 = make(0x1302, "AES-256-GCM", 32, EVP_sha384(), 48)
    private static let chacha = make(0x1303, "ChaCha20-Poly1305", 32, EVP_sha256(), 32)

    private static func make(
        _ id: UInt16,
        _ name: String,
        _ keyLength: Int,
        _ digest: OpaquePointer?,
        _ hashLength: Int
    ) -> TLS13Suite? {
        guard let cipher = EVP_CIPHER_fetch(nil, name, nil), let digest else { return nil }
        return TLS13Suite(id: id, cipher: cipher, digest: digest, keyLength: keyLength, hashLength: hashLength)
    }

    /// HKDF-Expand-Label(secret, label, "", length) (RFC 8446 §7.1; HKDF-Expand of RFC 5869 over the suite's hash).
    func expandLabel(_ secret: [UInt8], _ label: String, length: Int) -> [UInt8]? {
        let fullLabel = Array("tls13 \(label)".utf8)
        guard length > 0, length <= 255 * hashLength, fullLabel.count <= 255 else { return nil }
        // HkdfLabel: uint16 length, opaque label<7..255>, opaque context<0..255> (empty here).
        let info =
            [UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
            + [UInt8(truncatingIfNeeded: fullLabel.count)] + fullLabel + [0]
        var output: [UInt8] = []
        var block: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < length {
            guard let next = hmac(key: secret, block + info + [counter]) else { return nil }
            block = next
            output += next
            counter &+= 1
        }
        return Array(output.prefix(length))
    }

    private func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let done = HMAC(digest, key, Int32(clamping: key.count), data, data.count, &out, &length)
        guard done != nil, Int(length) == hashLength else { return nil }
        return Array(out.prefix(hashLength))
    }
}

/// One direction's record protection: its traffic secret (kept for key updates), the key and IV derived from it,
/// and the sequence number of the next record (RFC 8446 §5.3, §7.3).
struct TrafficKeys {
    private(set) var secret: [UInt8]
    private(set) var key: [UInt8]
    private(set) var iv: [UInt8]
    var sequence: UInt64 = 0

    init?(secret: [UInt8], suite: TLS13Suite) {
        guard secret.count == suite.hashLength,
            let key = suite.expandLabel(secret, "key", length: suite.keyLength),
            let iv = suite.expandLabel(secret, "iv", length: TLS13Suite.ivLength)
        else { return nil }
        self.secret = secret
        self.key = key
        self.iv = iv
    }

    /// The keys after a KeyUpdate: the next generation of the secret, the sequence back at 0.
    func updated(suite: TLS13Suite) -> TrafficKeys? {
        suite.expandLabel(secret, "traffic upd", length: suite.hashLength).flatMap {
            TrafficKeys(secret: $0, suite: suite)
        }
    }

    /// The nonce of the record with the current sequence number: the IV XOR the sequence, big-endian, left-padded.
    func nonce() -> [UInt8] {
        var nonce = iv
        for i in 0..<8 { nonce[4 + i] ^= UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(i))) }
        return nonce
    }
}

/// The two application traffic secrets of a finished TLS 1.3 handshake, caught from OpenSSL's key log callback
/// (the one way its API hands them out) while the handshake runs; filled in only for the connection they belong to.
final class TLS13Secrets {
    var client: [UInt8]?
    var server: [UInt8]?

    /// Takes one key-log line (`LABEL <client random hex> <secret hex>`); lines of other secrets are ignored.
    func take(line: String) {
        let fields = line.split(separator: " ")
        guard fields.count == 3, let secret = Self.bytes(hex: fields[2]) else { return }
        switch fields[0] {
        case "CLIENT_TRAFFIC_SECRET_0": client = secret
        case "SERVER_TRAFFIC_SECRET_0": server = secret
        default: break
        }
    }

    static func bytes(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2), digits.count <= 128 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let high = nibble(digits[i]), let low = nibble(digits[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
