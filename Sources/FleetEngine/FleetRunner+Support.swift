internal import FleetCore
internal import FleetMetrics
internal import NIOCore
internal import NIOPosix
internal import NIOSSL
internal import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension FleetRunner {
    /// One TCP connect to an external hub before the fleet starts, so a wrong URL is one clear error in our words.
    static func probe(_ address: SocketAddress, url: String, group: any EventLoopGroup) async throws {
        do {
            let channel = try await ClientBootstrap(group: group).connectTimeout(.seconds(5))
                .connect(to: address).get()
            try? await channel.close()
        } catch {
            throw FleetRunError(
                .hubUnreachable,
                "cannot reach the hub at \(url): \(ConnectionError(error).explanation); "
                    + "is the broker running, and are host and port in hub.url right?"
            )
        }
    }

    /// The devices' TLS context: trust exactly the scenario's CA (the embedded hub's, or `hub.ca_file`).
    static func clientTLS(_ settings: Scenario.TLS?) throws(FleetRunError) -> NIOSSLContext? {
        guard let settings else { return nil }
        let pem: String
        if let text = settings.caPEM {
            pem = text
        } else if let file = settings.caFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw FleetRunError(.tls, "hub.ca_file \(file): cannot read the file")
            }
            pem = text
        } else {
            throw FleetRunError(.tls, "TLS needs the CA to trust: set hub.ca_file (e.g. certs/ca.pem)")
        }
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            configuration.certificateVerification = .fullVerification
            configuration.minimumTLSVersion = .tlsv12
            // A device that ends a connection (a timeout, a failure, the run's end) sends close_notify and closes its
            // socket, as the SDKs' TLS stacks do: it never waits for the hub's close_notify (NIO's default waits up
            // to 5 s, which a blackholed hub never sends, and which would add 5 s to every measured recovery).
            configuration.shutdownTimeout = .zero
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw FleetRunError(
                .tls,
                "hub.ca_file \(settings.caFile ?? "(embedded hub CA)"): not a PEM certificate (\(error))"
            )
        }
    }

    static func unixNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// A value shared between tasks under a lock.
final class LockedBox<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { storage.withLock { body(&$0) } }
}

/// A set-once flag shared between tasks.
final class FlagBox: Sendable {
    private let storage = Mutex(false)
    func set() { storage.withLock { $0 = true } }
    var isSet: Bool { storage.withLock { $0 } }
}

/// The front of a hub that plays the profile's faults itself (`hub.serves_profile`): the run marks each fault's start
/// at the same times for its storm records and acts on nothing (the hub's report counts what each fault affected).
struct FaultMarks: EmbeddedHub {
    func start() async throws -> (host: String, port: Int) { ("", 0) }
    func inject(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) async -> Int { 0 }
    func resetClock() async {}
    func stop() async -> HubStats? { nil }
}
