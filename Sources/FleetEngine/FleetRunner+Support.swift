internal import FleetCore
internal import FleetMetrics
internal import NIOCore
internal import NIOPosix
internal import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension FleetRunner {
    /// Runs `body` every `interval` until the task is cancelled (the run's samplers: progress, live snapshots).
    static func every(_ interval: Duration, _ body: () async -> Void) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { break }
            await body()
        }
    }

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
