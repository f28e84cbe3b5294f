import Foundation

/// How devices authenticate: IoT Hub naming plus a SAS token per connection (reference §4.1, §4.2).
public struct DeviceAuth: Sendable, Hashable {
    /// What to set when a hub refuses FleetStorm devices' credentials: the same words in the hub's refusal line and
    /// in the one line of a run in which no device connected.
    public static func advice(hubHost: String) -> String {
        "give the devices the hub's host name and key: --set auth.mode=sas --set auth.hub_host=\(hubHost) "
            + "--set auth.group_key=KEY (the hub's --host and --group-key), or start the hub with --anonymous"
    }

    /// Where per-device keys come from.
    public enum Keys: Sendable, Hashable {
        /// DPS symmetric-key group enrollment: each device key is derived from the group key and the device id.
        case groupKey(String)
        /// Keys listed per device id (a registry file); devices not listed have no key.
        case registry([String: String])
        /// X.509: each device presents a certificate (common name = its id) and key in the TLS handshake and sends
        /// no SAS token. `directory`: where `{id}.pem` and `{id}-key.pem` are (`fleetstorm hub
        /// --generate-device-certs`); nil: the run makes a fleet CA and a certificate per device, and the embedded
        /// hub trusts that CA.
        case x509(directory: String?)
    }

    /// An X.509 device's certificate and private key, PEM. Never printed: `description` names the subject only.
    public struct Certificate: Sendable, Hashable, CustomStringConvertible {
        public var certificatePEM: String
        public var keyPEM: String

        public init(certificatePEM: String, keyPEM: String) {
            self.certificatePEM = certificatePEM
            self.keyPEM = keyPEM
        }

        public var description: String { "certificate (\(certificatePEM.utf8.count) B PEM, key not shown)" }
    }

    /// `{hubHost}` of the username and of the token's resource URI.
    public var hubHost: String
    public var keys: Keys
    /// Token lifetime (all SDKs default to one hour).
    public var tokenTTL: Duration = .seconds(3600)
    /// `api-version` in the username; nil: the preset's own.
    public var apiVersion: String?

    /// Whether devices authenticate by certificate (and need TLS).
    public var usesX509: Bool {
        if case .x509 = keys { return true }
        return false
    }

    public init(hubHost: String, keys: Keys) {
        self.hubHost = hubHost
        self.keys = keys
    }

    /// The device key for `deviceID`, or nil when the registry does not list it (or devices use X.509).
    public func key(for deviceID: String) throws(SASToken.Failure) -> String? {
        switch keys {
        case .groupKey(let group): try SASToken.deriveDeviceKey(groupKey: group, registrationID: deviceID)
        case .registry(let table): table[deviceID]
        case .x509: nil
        }
    }

    /// `{host}/{deviceId}/?api-version={v}&DeviceClientType={product}`.
    public static func username(host: String, deviceID: String, apiVersion: String, clientType: String) -> String {
        "\(host)/\(deviceID)/?api-version=\(apiVersion)&DeviceClientType=\(SASToken.urlEncode(clientType))"
    }
}
