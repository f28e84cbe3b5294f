internal import FleetMQTT
import NIOCore

/// A device's twin operations (`twin:` in the profile; IoT Hub's MQTT conventions, reference §4.3): after each
/// accepted CONNACK it subscribes to `$iothub/twin/res/#` with its other subscriptions, and once the SUBACK is in it
/// GETs its twin (`twin.get_on_connect`, what an application with a desired-property handler does on each
/// connection) and PATCHes its reported properties every `twin.report_interval`. One request at a time, GET first.
/// An answer 429 is retried after the device's throttled retry policy's delay, a 5xx after its retry policy's; any
/// other status ends the operation. An operation gives up `twin.timeout` after its first request (retries
/// included); a request whose connection ends unanswered is asked again on the next connection.
struct TwinProgress: Sendable, Hashable {
    var nextRid: UInt32 = 1
    /// The request waiting for its answer (0: none).
    var pendingRid: UInt32 = 0
    /// The operations to do: a GET, a reported PATCH (a report due while one waits is the same report).
    var getDue = false
    var reportDue = false
    /// The operation in progress (false: the GET, true: the PATCH; nil: none yet), when its first request went, its
    /// deadline, how many requests it made, the last retry delay, and when its next request may go after a 429 or 5xx.
    var current: Bool?
    var started: Instant = .zero
    var deadline: Instant?
    var attempt = 0
    var previousDelay: Duration?
    var retryAt: Instant?
    /// The next report on the grid (every `report_interval` from the first connection).
    var nextReport: Instant?
    /// The SUBACK of this connection's `$iothub/twin/res/#` arrived.
    var subscribed = false
    /// The instant the `.twin` timer is set for (nil: not set).
    var timerAt: Instant?
}

/// `TwinProgress` held out of line (a device without twin operations carries one reference, not the struct),
/// copied on write.
struct TwinBox: Sendable {
    private final class Storage: @unchecked Sendable {
        var value: TwinProgress
        init(_ value: TwinProgress) { self.value = value }
    }
    private var storage: Storage?

    init(enabled: Bool) { storage = enabled ? Storage(TwinProgress()) : nil }

    var isEnabled: Bool { storage != nil }

    /// Runs `body` on the progress (nothing when twin operations are off).
    mutating func update<R>(_ body: (inout TwinProgress) -> R) -> R? {
        guard storage != nil else { return nil }
        if !isKnownUniquelyReferenced(&storage!) { storage = Storage(storage!.value) }
        return body(&storage!.value)
    }

    var value: TwinProgress? { storage?.value }
}

/// The twin topics a device uses (reference §4.3): requests `$iothub/twin/GET/?$rid={rid}` and
/// `$iothub/twin/PATCH/properties/reported/?$rid={rid}`, answers `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`.
public enum TwinTopic {
    public static let responses = "$iothub/twin/res/"
    static let get = "$iothub/twin/GET/?$rid="
    static let patch = "$iothub/twin/PATCH/properties/reported/?$rid="

    /// Whether a device's request is a PATCH, and its request id (as our devices write them); nil for any other topic.
    public static func request(_ topic: String) -> (update: Bool, rid: UInt32)? {
        if topic.hasPrefix(get), let rid = UInt32(topic.dropFirst(get.utf8.count)) { return (false, rid) }
        if topic.hasPrefix(patch), let rid = UInt32(topic.dropFirst(patch.utf8.count)) { return (true, rid) }
        return nil
    }

    /// The answer to request `rid` with `status` (and the twin's `version`, for a PATCH's 204).
    public static func answer(status: Int, rid: some StringProtocol, version: Int? = nil) -> String {
        "\(responses)\(status)/?$rid=\(rid)" + (version.map { "&$version=\($0)" } ?? "")
    }

    /// A parameter of a topic's query (`…?$rid=7&$version=2`): its text, nil when absent or empty.
    public static func parameter(_ name: String, of topic: String) -> Substring? {
        guard let q = topic.firstIndex(of: "?") else { return nil }
        let prefix = name + "="
        for pair in topic[topic.index(after: q)...].split(separator: "&") where pair.hasPrefix(prefix) {
            let value = pair.dropFirst(prefix.count)
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// An answer's status (100–599), request id as written, and version when it carries one; nil when the topic is
    /// not an answer.
    public static func parseAnswer(_ topic: String) -> (status: Int, rid: Substring, version: Int64?)? {
        guard topic.hasPrefix(responses) else { return nil }
        let rest = topic.dropFirst(responses.count)
        guard let slash = rest.firstIndex(of: "/"), let status = Int(rest[..<slash]), (100...599).contains(status),
            let rid = parameter("$rid", of: topic)
        else { return nil }
        return (status, rid, parameter("$version", of: topic).flatMap { Int64($0) })
    }

    /// The status and request id of an answer to one of our devices (ids are numbers); nil for any other topic.
    public static func answer(_ topic: String) -> (status: Int, rid: UInt32)? {
        guard let (status, rid, _) = parseAnswer(topic), let id = UInt32(rid) else { return nil }
        return (status, id)
    }
}

extension DeviceStateMachine {
    /// Twin requests written and waiting for their answer (0 or 1), and twin operations due and not ended (0 to 2),
    /// counted from what the device holds: the accounting checks compare them with the recorded events.
    public var pendingTwinRequests: Int { twin.value.map { $0.pendingRid != 0 ? 1 : 0 } ?? 0 }
    public var openTwinOperations: Int { twin.value.map { ($0.getDue ? 1 : 0) + ($0.reportDue ? 1 : 0) } ?? 0 }

    /// An accepted CONNACK: a GET is due on every connection when asked for; the report grid starts with the first.
    mutating func twinConnected(now: Instant, into actions: inout Actions) {
        let settings = config.twin
        let began = twin.update { t -> (get: Bool, report: Bool) in
            t.subscribed = false
            var began = (get: false, report: false)
            if settings.getOnConnect && !t.getDue {
                t.getDue = true
                began.get = true
            }
            if settings.reportInterval > .zero, t.nextReport == nil {
                t.nextReport = now + settings.reportInterval
                began.report = !t.reportDue
                t.reportDue = true
            }
            return began
        }
        guard let began else { return }
        if began.get { actions.append(.record(.twinOperation(update: false))) }
        if began.report { actions.append(.record(.twinOperation(update: true))) }
        twinSchedule(into: &actions)
    }

    /// The SUBACK of this connection's subscriptions.
    mutating func twinSubscribed(now: Instant, into actions: inout Actions) {
        guard twin.update({ $0.subscribed = true }) != nil else { return }
        twinPump(now: now, into: &actions)
    }

    /// Writes the next request when the connection can carry one and none is waiting: the operation in progress
    /// first, else the GET, else the PATCH.
    mutating func twinPump(now: Instant, into actions: inout Actions) {
        guard case .connected = state, let t = twin.value, t.subscribed, t.pendingRid == 0,
            t.retryAt.map({ $0 <= now }) ?? true
        else { return }
        let update: Bool
        if let current = t.current {
            update = current
        } else if t.getDue || t.reportDue {
            update = !t.getDue
        } else {
            return
        }
        let timeout = config.twin.timeout
        let written = twin.update { t -> UInt32 in
            let rid = t.nextRid
            t.nextRid = t.nextRid == .max ? 1 : t.nextRid + 1
            t.pendingRid = rid
            t.retryAt = nil
            t.attempt += 1
            if t.current == nil {
                t.current = update
                t.started = now
                t.deadline = now + timeout
            }
            return rid
        }
        guard let rid = written else { return }
        let topic = (update ? TwinTopic.patch : TwinTopic.get) + String(rid)
        actions.append(
            .write(.publish(MQTTPublish(topic: topic, payload: update ? config.twin.reportBody : ByteBuffer())))
        )
        session.lastWrite = now
        actions.append(.record(.twinRequest(update: update)))
        twinSchedule(into: &actions)
    }

    /// A PUBLISH on `$iothub/twin/res/…`: the answer to the waiting request, or nothing (late or foreign).
    mutating func twinAnswered(_ publish: MQTTPublish, now: Instant, into actions: inout Actions) {
        guard let (status, rid) = TwinTopic.answer(publish.topic), let t = twin.value, t.pendingRid != 0,
            rid == t.pendingRid, let update = t.current
        else { return }
        actions.append(.record(.twinAnswer(update: update, status: UInt16(status))))
        let policy: RetryPolicy? =
            status == 429 ? config.throttledRetry : (500...599).contains(status) ? config.retry : nil
        let delay = policy?.delay(attempt: t.attempt, previous: t.previousDelay, using: &rng)
        twin.update { t in
            t.pendingRid = 0
            if let delay {
                t.previousDelay = delay
                t.retryAt = now + delay
            }
        }
        if (200...299).contains(status) {
            actions.append(.record(.twinCompleted(update: update, latency: now - t.started)))
            twinEnded()
        } else if delay == nil {
            // Not retried (a 4xx other than 429), or the policy gave up.
            actions.append(.record(.twinGaveUp(update: update)))
            twinEnded()
        }
        twinPump(now: now, into: &actions)
        twinSchedule(into: &actions)
    }

    /// The operation in progress is over; the next one (if due) starts with its first request.
    private mutating func twinEnded() {
        twin.update { t in
            if t.current == true { t.reportDue = false } else if t.current == false { t.getDue = false }
            t.current = nil
            t.deadline = nil
            t.attempt = 0
            t.previousDelay = nil
            t.retryAt = nil
        }
    }

    /// The `.twin` timer: the operation's deadline, a retry's time, or the next report.
    mutating func twinTimerFired(now: Instant, into actions: inout Actions) {
        guard let t = twin.value else { return }
        twin.update { $0.timerAt = nil }
        if let deadline = t.deadline, now >= deadline, let update = t.current {
            if t.pendingRid != 0 {
                actions.append(.record(.twinUnanswered(update: update)))
                twin.update { $0.pendingRid = 0 }
            }
            actions.append(.record(.twinGaveUp(update: update)))
            twinEnded()
        }
        if let next = t.nextReport, now >= next {
            let interval = config.twin.reportInterval
            // Read after the deadline above: it may just have ended the report that was due.
            let wasDue = twin.value?.reportDue == true
            twin.update { t in
                var n = next
                while n <= now { n = n + interval }
                t.nextReport = n
                t.reportDue = true
            }
            if !wasDue { actions.append(.record(.twinOperation(update: true))) }
        }
        twinPump(now: now, into: &actions)
        // A retry time that passed without a request (none could go) is not set again, or the timer would spin.
        if let retryAt = twin.value?.retryAt, retryAt <= now { twin.update { $0.retryAt = nil } }
        twinSchedule(into: &actions)
    }

    /// The connection ended: a request still waiting is unanswered (asked again on the next connection).
    mutating func twinSessionEnded(into actions: inout Actions) {
        guard let t = twin.value else { return }
        if t.pendingRid != 0, let update = t.current { actions.append(.record(.twinUnanswered(update: update))) }
        twin.update { t in
            t.pendingRid = 0
            t.subscribed = false
            t.retryAt = nil
        }
    }

    /// The device is done: operations not finished end with it (open when the run stopped it, else given up), and
    /// its twin timer goes.
    mutating func twinFinished(stopped: Bool, into actions: inout Actions) {
        guard let t = twin.value else { return }
        twinSessionEnded(into: &actions)
        for (due, update) in [(t.getDue, false), (t.reportDue, true)] where due {
            actions.append(.record(stopped ? .twinOpenAtStop(update: update) : .twinGaveUp(update: update)))
        }
        twin.update { t in
            t.getDue = false
            t.reportDue = false
            t.current = nil
            t.deadline = nil
            t.nextReport = nil
            t.timerAt = nil
        }
        actions.append(.cancel(.twin))
    }

    /// Sets the `.twin` timer for the earliest of the deadline, the retry and the next report.
    private mutating func twinSchedule(into actions: inout Actions) {
        guard let t = twin.value else { return }
        var due = t.deadline
        for d in [t.retryAt, t.nextReport] { if let d, due.map({ d < $0 }) ?? true { due = d } }
        guard due != t.timerAt else { return }
        twin.update { $0.timerAt = due }
        if let due { actions.append(.schedule(.twin, due)) } else { actions.append(.cancel(.twin)) }
    }
}
