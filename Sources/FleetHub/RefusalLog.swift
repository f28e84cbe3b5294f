internal import FleetHubCore
internal import Synchronization

/// Says why the hub refuses CONNECTs while it happens: the first refusal of each reason at once, then at most one
/// line per reason every `interval`, with how many more there were. A storm of 10,000 bad tokens is a few lines.
public final class RefusalLog: Sendable {
    private struct Entry {
        var lastPrinted: ContinuousClock.Instant
        var suppressed = 0
    }

    private let interval: Duration
    private let write: @Sendable (String) -> Void
    private let entries = Mutex<[String: Entry]>([:])

    public init(every interval: Duration = .seconds(10), write: @escaping @Sendable (String) -> Void) {
        self.interval = interval
        self.write = write
    }

    /// A CONNECT was refused for `reason`; `explanation` says why and what to change.
    public func note(_ reason: String, _ explanation: String) {
        let now = ContinuousClock.now
        let line: String? = entries.withLock { all in
            guard var entry = all[reason] else {
                all[reason] = Entry(lastPrinted: now)
                return "refused: \(explanation)"
            }
            guard now - entry.lastPrinted >= interval else {
                entry.suppressed += 1
                all[reason] = entry
                return nil
            }
            let more = entry.suppressed
            all[reason] = Entry(lastPrinted: now)
            return "refused: \(explanation)" + (more > 0 ? " (and \(more) more \(reason) refusals)" : "")
        }
        if let line { write(line) }
    }
}
