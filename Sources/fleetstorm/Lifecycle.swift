import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The process lifecycle, as Swift server processes run it: the command's entry point is the one service of a
/// `ServiceGroup`; SIGINT and SIGTERM cancel it (it stops its devices or its hub and still returns its report), and
/// the group ends when it returns. Returns what the entry point returned, or rethrows its error.
func withSignalCancellation<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    // A parent that spawned us from a worker thread may have left SIGINT/SIGTERM blocked: unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    let command = CommandService(body)
    let group = ServiceGroup(
        configuration: ServiceGroupConfiguration(
            services: [
                .init(
                    service: command,
                    successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .gracefullyShutdownGroup
                )
            ],
            cancellationSignals: [.sigint, .sigterm],
            logger: Logger(label: "fleetstorm", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    )
    try await group.run()
    return try command.outcome()
}

/// One command run as a service; keeps its result for the caller.
final class CommandService<T: Sendable>: Service, Sendable {
    private let body: @Sendable () async throws -> T
    private let result = Mutex<Result<T, any Error>?>(nil)

    init(_ body: @escaping @Sendable () async throws -> T) { self.body = body }

    func run() async throws {
        let value: Result<T, any Error>
        do {
            value = .success(
                try await withTaskCancellationHandler {
                    try await body()
                } onCancel: {
                    printErr("\nstopping (signal received); writing the report...")
                }
            )
        } catch {
            value = .failure(error)
        }
        result.withLock { $0 = value }
    }

    /// What the command returned (or threw).
    func outcome() throws -> T {
        guard let r = result.withLock({ $0 }) else { throw CancellationError() }
        return try r.get()
    }
}
