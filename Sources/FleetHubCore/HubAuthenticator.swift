public import FleetCore
public import FleetMQTT
import Foundation

/// Who the hub lets in, as IoT Hub does (reference §3.1, §4.1, §4.2): the client id is the device id, the username
/// names this hub and that device, the password is a SAS token for `{host}/devices/{id}` signed with the device's
/// key and not expired. Every failure is the same refusal IoT Hub gives: CONNACK 5 (3.1.1) or 0x87 (MQTT 5).
public struct HubAuthenticator: Sendable, Hashable {
    /// The hub side of a scenario's device authentication: same host, same keys.
    public init(matching auth: DeviceAuth?) {
        guard let auth else {
            self.init()
            return
        }
        switch auth.keys {
        case .groupKey(let g): self.init(keys: .groupKey(g), hostName: auth.hubHost)
        case .registry(let table): self.init(keys: .registry(table), hostName: auth.hubHost)
        // The devices' CA is trusted by the hub's TLS (the embedded hub's server context); no thumbprints.
        case .x509: self.init(keys: .x509(thumbprints: [:]), hostName: auth.hubHost)
        }
    }

    public enum Keys: Sendable, Hashable {
        /// Plain MQTT load: any client id, no credentials checked.
        case anonymous
        /// Device keys by id.
        case registry([String: String])
        /// DPS group enrollment: every device key is derived from the group key and the device id.
        case groupKey(String)
        /// X.509 (IoT Hub's two kinds): a device whose certificate's thumbprint is registered for its id (SHA-1 or
        /// SHA-256, upper-case hex; self-signed devices), or whose certificate chains to a CA the hub trusts and
        /// names the device (common name = device id). No password is needed.
        case x509(thumbprints: [String: String])
    }

    public var keys: Keys
    /// The host name devices must use in their username and token.
    public var hostName: String
    /// Device ids that are refused even with valid credentials.
    public var disabled: Set<String>
    /// How long past its expiry a connected device's token is tolerated before the hub drops it.
    public var expiryGrace: Duration

    public init(
        keys: Keys = .anonymous,
        hostName: String = "fleetstorm.local",
        disabled: Set<String> = [],
        expiryGrace: Duration = .zero
    ) {
        self.keys = keys
        self.hostName = hostName
        self.disabled = disabled
        self.expiryGrace = expiryGrace
    }

    /// Why a CONNECT is refused (for the hub's statistics; the device only sees the refusal code).
    public enum Refusal: String, Sendable, Hashable, CaseIterable {
        case disabled
        case unknownDevice = "unknown_device"
        case badUsername = "bad_username"
        case noToken = "no_token"
        case badToken = "bad_token"
        case wrongResource = "wrong_resource"
        case expired
        case badSignature = "bad_signature"
        /// X.509: no client certificate; one from a CA the hub does not trust (and no registered thumbprint); a
        /// trusted CA's certificate for another device.
        case noCertificate = "no_certificate"
        case untrustedCertificate = "untrusted_certificate"
        case certificateSubject = "certificate_subject"
        /// An empty client id (CONNACK 2 / 0x85).
        case clientID = "client_id"
        /// Faults and throttles: outage, reject-auth, the new-connection throttle, a reset by the outage fault.
        case outage
        case rejectAuth = "reject_auth"
        case throttled
        case reset
    }

    public enum Verdict: Sendable, Hashable {
        /// Accepted; the token expires at this Unix time (nil: anonymous, never).
        case accepted(tokenExpiry: Int64?)
        case refused(Refusal)
    }

    /// `certificate`: what the client presented in the TLS handshake (X.509 only; nil without TLS or without one).
    public func check(_ connect: MQTTConnect, nowUnix: Int64, certificate: PeerCertificate? = nil) -> Verdict {
        let id = connect.clientID
        if disabled.contains(id) { return .refused(.disabled) }
        let key: String?
        switch keys {
        case .anonymous: return .accepted(tokenExpiry: nil)
        case .registry(let table): key = table[id]
        case .groupKey(let group): key = try? SASToken.deriveDeviceKey(groupKey: group, registrationID: id)
        case .x509(let thumbprints):
            if let refusal = Self.refusal(certificate, id: id, registered: thumbprints[id]) { return .refused(refusal) }
            guard hasUsername(connect) else { return .refused(.badUsername) }
            return .accepted(tokenExpiry: nil)
        }
        guard let key else { return .refused(.unknownDevice) }
        guard hasUsername(connect) else { return .refused(.badUsername) }
        guard let password = connect.password else { return .refused(.noToken) }
        guard let token = SASToken.parse(String(decoding: password, as: UTF8.self)) else { return .refused(.badToken) }
        guard token.resourceURI.lowercased() == "\(hostName)/devices/\(id)".lowercased() else {
            return .refused(.wrongResource)
        }
        guard token.expiry > nowUnix else { return .refused(.expired) }
        guard let expected = try? SASToken.signature(resourceURI: token.resourceURI, key: key, expiry: token.expiry),
            expected == token.signature
        else { return .refused(.badSignature) }
        return .accepted(tokenExpiry: token.expiry)
    }

    /// `{hostName}/{deviceId}/...`, IoT Hub's username.
    private func hasUsername(_ connect: MQTTConnect) -> Bool {
        guard let username = connect.username else { return false }
        return username.lowercased().hasPrefix("\(hostName.lowercased())/\(connect.clientID.lowercased())/")
    }

    /// Why a device's certificate does not let it in (nil: it does). A registered thumbprint wins; otherwise the
    /// certificate must chain to a trusted CA and name the device.
    static func refusal(_ certificate: PeerCertificate?, id: String, registered: String?) -> Refusal? {
        guard let certificate else { return .noCertificate }
        if let registered, certificate.matches(thumbprint: registered) { return nil }
        guard certificate.chainVerified else { return .untrustedCertificate }
        return certificate.commonName == id ? nil : .certificateSubject
    }

    /// Why `connect` was refused, in one line with the fix where there is one. Names the device and the host, never
    /// the token or a key.
    public func explain(_ refusal: Refusal, _ connect: MQTTConnect) -> String {
        let id = connect.clientID
        switch refusal {
        case .badUsername:
            let host = connect.username.map { String($0.prefix { $0 != "/" }) } ?? ""
            if host != hostName && !host.isEmpty {
                return "device \(id): username host \"\(host)\" is not this hub's host \"\(hostName)\": "
                    + "start the hub with --host \(host), or use HostName=\(hostName) in the device's connection string"
            }
            return "device \(id): username is not \"\(hostName)/\(id)/?api-version=...\" (IoT Hub's form): "
                + DeviceAuth.advice(hubHost: hostName)
        case .wrongResource:
            return "device \(id): the SAS token is for another resource than \"\(hostName)/devices/\(id)\": "
                + "check the connection string's HostName (or start the hub with --host)"
        case .unknownDevice: return "device \(id): not in the hub's registry: add it, or use a group key (--group-key)"
        case .noToken: return "device \(id): no SAS token in the password: " + DeviceAuth.advice(hubHost: hostName)
        case .badToken:
            return "device \(id): the password is not a SAS token (SharedAccessSignature sr=...&sig=...&se=...)"
        case .expired: return "device \(id): the SAS token has expired: check the device's clock and token lifetime"
        case .badSignature:
            return
                "device \(id): the SAS token's signature does not match the device key: check the key the device uses"
        case .noCertificate:
            return "device \(id): no client certificate (the hub authenticates devices by X.509): give the device its "
                + "certificate and key (auth.mode=x509)"
        case .untrustedCertificate:
            return "device \(id): its certificate is not from a CA this hub trusts and its thumbprint is not "
                + "registered: start the hub with --x509-ca (the fleet CA) or register the thumbprint"
        case .certificateSubject:
            return "device \(id): its certificate is for another device (common name is not the device id)"
        case .disabled: return "device \(id): disabled on this hub (a disable fault)"
        default: return "device \(id): refused (\(refusal.rawValue))"
        }
    }

    /// The refusal code IoT Hub answers every failed CONNECT with.
    public static func refusalCode(_ version: MQTTVersion) -> UInt8 { version == .v5 ? 0x87 : 5 }
}
