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
        }
    }

    public enum Keys: Sendable, Hashable {
        /// Plain MQTT load: any client id, no credentials checked.
        case anonymous
        /// Device keys by id.
        case registry([String: String])
        /// DPS group enrollment: every device key is derived from the group key and the device id.
        case groupKey(String)
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

    public func check(_ connect: MQTTConnect, nowUnix: Int64) -> Verdict {
        let id = connect.clientID
        if disabled.contains(id) { return .refused(.disabled) }
        let key: String?
        switch keys {
        case .anonymous: return .accepted(tokenExpiry: nil)
        case .registry(let table): key = table[id]
        case .groupKey(let group): key = try? SASToken.deriveDeviceKey(groupKey: group, registrationID: id)
        }
        guard let key else { return .refused(.unknownDevice) }
        guard let username = connect.username,
            username.lowercased().hasPrefix("\(hostName.lowercased())/\(id.lowercased())/")
        else { return .refused(.badUsername) }
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
        case .disabled: return "device \(id): disabled on this hub (a disable fault)"
        default: return "device \(id): refused (\(refusal.rawValue))"
        }
    }

    /// The refusal code IoT Hub answers every failed CONNECT with.
    public static func refusalCode(_ version: MQTTVersion) -> UInt8 { version == .v5 ? 0x87 : 5 }
}
