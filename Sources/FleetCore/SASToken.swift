internal import COpenSSL
import Foundation

/// IoT Hub shared access signatures and DPS group-key derivation (reference §4.2, §4.7).
///
/// `sig = base64(HMAC-SHA256(base64decode(key), urlencode(resourceURI) + "\n" + expiry))`; the token is
/// `SharedAccessSignature sr={urlencoded URI}&sig={urlencoded sig}&se={expiry}`. Secrets stay out of descriptions.
public enum SASToken {
    /// Why a key or token cannot be used. Never contains the key or the signature.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// Builds a device token for `resourceURI` (`{host}/devices/{id}`) signed with `key` (base64), valid until
    /// `expiry` (Unix seconds).
    public static func make(resourceURI: String, key: String, expiry: Int64) throws(Failure) -> String {
        guard let keyBytes = Data(base64Encoded: key), !keyBytes.isEmpty else {
            throw Failure(reason: "the device key is not valid base64")
        }
        return make(resourceURI: resourceURI, keyBytes: keyBytes, expiry: expiry)
    }

    static func make(resourceURI: String, keyBytes: Data, expiry: Int64) -> String {
        let encodedURI = urlEncode(resourceURI)
        let signature = sign(encodedURI: encodedURI, expiry: expiry, keyBytes: keyBytes)
        return "SharedAccessSignature sr=\(encodedURI)&sig=\(urlEncode(signature))&se=\(expiry)"
    }

    /// The base64 HMAC-SHA256 signature of `urlencode(resourceURI) + "\n" + expiry`.
    public static func signature(resourceURI: String, key: String, expiry: Int64) throws(Failure) -> String {
        guard let keyBytes = Data(base64Encoded: key), !keyBytes.isEmpty else {
            throw Failure(reason: "the device key is not valid base64")
        }
        return sign(encodedURI: urlEncode(resourceURI), expiry: expiry, keyBytes: keyBytes)
    }

    static func sign(encodedURI: String, expiry: Int64, keyBytes: Data) -> String {
        hmacSHA256(key: keyBytes, Data("\(encodedURI)\n\(expiry)".utf8)).base64EncodedString()
    }

    /// The DPS symmetric-key group derivation: base64(HMAC-SHA256(base64decode(groupKey), registrationID)).
    public static func deriveDeviceKey(groupKey: String, registrationID: String) throws(Failure) -> String {
        guard let keyBytes = Data(base64Encoded: groupKey), !keyBytes.isEmpty else {
            throw Failure(reason: "the group key is not valid base64")
        }
        return hmacSHA256(key: keyBytes, Data(registrationID.utf8)).base64EncodedString()
    }

    /// HMAC-SHA256 on the system's libcrypto (the TLS one). libcrypto fails only without memory; then the MAC is
    /// empty, and a token signed with it is refused like any wrong signature.
    static func hmacSHA256(key: Data, _ message: Data) -> Data {
        var mac = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let done = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                HMAC(
                    EVP_sha256(),
                    k.baseAddress,
                    Int32(clamping: k.count),
                    m.bindMemory(to: UInt8.self).baseAddress,
                    m.count,
                    &mac,
                    &length
                ) != nil
            }
        }
        return done ? Data(mac.prefix(Int(length))) : Data()
    }

    /// The fields of a token (for the hub's validator). Nil when it is not a SharedAccessSignature.
    public static func parse(
        _ token: String
    ) -> (resourceURI: String, signature: String, expiry: Int64, keyName: String?)? {
        let prefix = "SharedAccessSignature "
        guard token.hasPrefix(prefix) else { return nil }
        var fields: [String: String] = [:]
        for pair in token.dropFirst(prefix.count).split(separator: "&") {
            guard let eq = pair.firstIndex(of: "=") else { return nil }
            let name = String(pair[..<eq])
            guard let value = String(pair[pair.index(after: eq)...]).removingPercentEncoding else { return nil }
            fields[name] = value
        }
        guard let sr = fields["sr"], let sig = fields["sig"], let se = fields["se"].flatMap({ Int64($0) }) else {
            return nil
        }
        return (sr, sig, se, fields["skn"])
    }

    /// Percent-encodes everything but the unreserved characters (`A–Z a–z 0–9 - _ . ~`), as the SDKs do.
    public static func urlEncode(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return out
    }
}
