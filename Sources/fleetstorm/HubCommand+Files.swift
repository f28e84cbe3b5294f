import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import Foundation

/// The files `fleetstorm hub` reads and writes besides its report: device certificates, flag files, the sample.
extension HubCommand {
    static func readFile(_ path: String, flag: String) -> String {
        guard let text = ProfileFiles.read(path) else { fail("\(flag) \(path): cannot read the file (does it exist?)") }
        return text
    }

    /// --generate-device-certs DIR: a device CA and one certificate per device, ids as a profile's fleet names them.
    func generateDeviceCertificates(into directory: String) {
        guard (1...1_000_000).contains(devices) else { fail("--devices \(devices): expected 1 … 1,000,000") }
        var fleet = Scenario.Fleet()
        (fleet.devices, fleet.idPrefix) = (devices, idPrefix)
        do {
            let ca = try DeviceCertificates.makeCA()
            let issued = try DeviceCertificates.issue((0..<devices).map { fleet.deviceID($0) }, by: ca)
            try DeviceCertificates.write(ca, issued, to: directory)
            print("\(directory)/ca.pem: the device CA (start the hub with --x509-ca \(directory)/ca.pem)")
            print(
                "\(devices) devices: \(directory)/\(fleet.deviceID(0)).pem … (profiles: auth: {mode: x509, certificates: \(directory)})"
            )
        } catch { fail("--generate-device-certs \(error.description)") }
    }

    static func address(_ text: String, flag: String) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { fail("\(flag) \(text): expected HOST:PORT, e.g. 127.0.0.1:1883") }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    /// --sample FILE: the first messages and each device's last, as JSON lines.
    static func writeSample(_ sample: MessageSample, to path: String, flag: String = "--sample") {
        let (first, last, offered) = sample.contents
        do {
            try sample.jsonLines().write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            fail("\(flag) \(path): cannot write the file (\(error.localizedDescription))")
        }
        print(
            "sample: \(path) (the first \(first.count) of \(offered) messages, and the last of each of \(last.count) devices)"
        )
    }
}
