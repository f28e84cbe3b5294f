import FleetCore
public import FleetMQTT

/// Devices of the harnesses' hub: DPS group enrollment on one host, each device's key derived from the group key.
public enum SignedDevice {
    public static let host = "fuzz.azure-devices.net"
    /// A group key (base64 of 32 bytes); device keys derive from it as in DPS group enrollment.
    public static let groupKey = "ZmxlZXRzdG9ybS1mdXp6LWdyb3VwLWtleS0wMDAwMDA="

    /// A CONNECT for device `id` with a correctly signed SAS token whose `se` is `expiry` (any Int64).
    public static func connect(id: String, expiry: Int64, version: MQTTVersion = .v311) -> MQTTConnect? {
        guard let key = try? SASToken.deriveDeviceKey(groupKey: groupKey, registrationID: id),
            let token = try? SASToken.make(resourceURI: "\(host)/devices/\(id)", key: key, expiry: expiry)
        else { return nil }
        var connect = MQTTConnect(version: version, clientID: id)
        connect.username = "\(host)/\(id)/?api-version=2021-04-12"
        connect.password = Array(token.utf8)
        return connect
    }
}
