import FleetCore
import FleetHub
import FleetHubCore
import FleetMQTT
import NIOCore

/// Credentials from outside. The input's first byte picks the case:
/// - 0: the rest is a SAS token, checked by the hub's authenticator as a device's password;
/// - 1: the rest is a device registry file;
/// - 2: eight bytes are a token's expiry (`se`, any Int64): the token is signed correctly for it and a device connects
///   with it to the hub's MQTT front, which must answer with a CONNACK and keep serving (a connect follows).
enum CredentialsHarness {
    static let host = SignedDevice.host
    static let groupKey = SignedDevice.groupKey
    /// The Unix time the authenticator is asked at.
    static let nowUnix: Int64 = 1_800_000_000

    static func run(_ input: [UInt8]) -> String? {
        var bytes = FuzzBytes(input)
        switch bytes.byte() % 3 {
        case 0:
            let text = String(decoding: bytes.rest(), as: UTF8.self)
            _ = SASToken.parse(text)
            var connect = MQTTConnect(version: .v311, clientID: "dev-1")
            connect.username = "\(host)/dev-1/?api-version=2021-04-12"
            connect.password = Array(text.utf8)
            let verdict = HubAuthenticator(keys: .groupKey(groupKey), hostName: host).check(connect, nowUnix: nowUnix)
            if case .accepted = verdict, !text.contains("sig=") { return "a token without a signature was accepted" }
            return nil
        case 1:
            _ = try? DeviceRegistry.parse(String(decoding: bytes.rest(), as: UTF8.self), source: "fuzz.yaml")
            return nil
        default:
            let expiry = Int64(bitPattern: bytes.uint64())
            return signedConnect(expiry: expiry)
        }
    }

    /// A device with a correctly signed token expiring at `expiry` connects to the hub's MQTT front, then another
    /// device connects with a token valid for an hour: both get a CONNACK (the hub survived the first).
    static func signedConnect(expiry: Int64) -> String? {
        guard let first = SignedDevice.connect(id: "dev-1", expiry: expiry),
            let second = SignedDevice.connect(id: "dev-2", expiry: HubFrontHarness.wallClockUnix() + 3600)
        else { return "could not sign a token" }
        var configuration = HubConfiguration()
        configuration.auth = HubAuthenticator(keys: .groupKey(groupKey), hostName: host)
        configuration.connectTimeout = .seconds(1)
        let hub = HubAttachment(configuration: configuration)
        for connect in [first, second] {
            let id = connect.clientID
            var stream = ByteBuffer()
            guard (try? MQTTEncoder(version: .v311).encode(.connect(connect), into: &stream)) != nil else {
                return "could not encode a CONNECT"
            }
            let outcome = HubFrontHarness.drive(Array(stream.readableBytesView), chunk: 4096, front: .mqtt, hub: hub)
            if let problem = outcome.problem { return problem }
            var written = ByteBuffer(bytes: outcome.written)
            var decoder = MQTTDecoder(version: .v311)
            guard case .connack(let ack)? = try? decoder.decode(buffer: &written) else {
                return "\(id) (token expiry \(expiry)) got no CONNACK"
            }
            if id == "dev-2" && ack.code != 0 { return "a valid token was refused (code \(ack.code))" }
        }
        return nil
    }
}
