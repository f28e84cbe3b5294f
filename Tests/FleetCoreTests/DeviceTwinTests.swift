import FleetMQTT
import NIOCore
import Testing

@testable import FleetCore

/// A device's twin operations (`twin:`), driven through the machine's inputs: the subscription and GET on each
/// connection, reports on their grid, retries after 429 and 5xx, the timeout, a connection lost mid-request; and
/// random event orders with twin answers and timers mixed in.
@Suite("DeviceStateMachine: twin operations")
struct DeviceTwinTests {
    static func ms(_ v: Int64) -> Instant { Instant(nanoseconds: v * 1_000_000) }

    static func scenario(get: Bool = true, report: Duration = .zero, sdk: SDK = .dotnet) -> Scenario {
        var s = Scenario()
        s.telemetry.messages = 1000
        s.telemetry.interval = .seconds(100)
        s.twin.getOnConnect = get
        s.twin.reportInterval = report
        s.twin.reportBytes = 40
        s.twin.timeout = .seconds(30)
        s.sdk = sdk
        s.retry = sdk.defaultRetry
        return s
    }

    /// Connects the device at `at`, answers the SUBSCRIBE; returns the actions after the CONNACK and the SUBACK.
    static func connect(_ m: inout DeviceStateMachine, at: Instant) -> [DeviceAction] {
        var a: [DeviceAction] = []
        m.start(now: at, into: &a)
        m.connectSucceeded(now: at, into: &a)
        m.packetReceived(.connack(MQTTConnAck(code: 0)), now: at, into: &a)
        let sub = a.compactMap { action -> MQTTSubscribe? in
            if case .write(.subscribe(let s)) = action { return s }
            return nil
        }.last
        if let sub { m.packetReceived(.suback(MQTTSubAck(packetID: sub.packetID, codes: [0])), now: at, into: &a) }
        return a
    }

    static func twinWrites(_ a: [DeviceAction]) -> [String] {
        a.compactMap { action in
            if case .write(.publish(let p)) = action { return p.topic }
            return nil
        }
    }

    static func answer(_ status: Int, rid: Int) -> MQTTPacket {
        .publish(MQTTPublish(topic: "$iothub/twin/res/\(status)/?$rid=\(rid)&$version=3", payload: ByteBuffer()))
    }

    @Test func getsItsTwinAfterTheSubscriptionOnEveryConnection() {
        var m = DeviceStateMachine(deviceID: "d1", config: DeviceConfig(scenario: Self.scenario()), seed: 1)
        var a = Self.connect(&m, at: .zero)
        let filters = a.compactMap { action -> [String]? in
            if case .write(.subscribe(let s)) = action { return s.subscriptions.map(\.topicFilter) }
            return nil
        }
        #expect(filters == [["$iothub/twin/res/#"]], "one SUBSCRIBE, the twin answers only (no C2D asked)")
        #expect(Self.twinWrites(a) == ["$iothub/twin/GET/?$rid=1"])
        #expect(a.contains(.record(.twinOperation(update: false))) && a.contains(.record(.twinRequest(update: false))))
        a.removeAll()
        m.packetReceived(Self.answer(200, rid: 1), now: Self.ms(40), into: &a)
        #expect(a.contains(.record(.twinAnswer(update: false, status: 200))))
        #expect(a.contains(.record(.twinCompleted(update: false, latency: .milliseconds(40)))))
        #expect(!a.contains { if case .record(.received) = $0 { true } else { false } }, "a twin answer is not C2D")
        #expect(m.openTwinOperations == 0 && m.pendingTwinRequests == 0)
        // The connection drops; the next one GETs again.
        a.removeAll()
        m.channelClosed(now: Self.ms(100), into: &a)
        m.timerFired(.backoff, deadline: Self.ms(200), now: Self.ms(200), into: &a)
        m.connectSucceeded(now: Self.ms(201), into: &a)
        m.packetReceived(.connack(MQTTConnAck(code: 0)), now: Self.ms(202), into: &a)
        #expect(Self.twinWrites(a).isEmpty, "not before the SUBACK")
        let id: UInt16 = a.compactMap { if case .write(.subscribe(let s)) = $0 { s.packetID } else { nil } }.first ?? 0
        m.packetReceived(.suback(MQTTSubAck(packetID: id, codes: [0])), now: Self.ms(203), into: &a)
        #expect(Self.twinWrites(a) == ["$iothub/twin/GET/?$rid=2"])
    }

    /// Reference §5.2: a throttled twin request is answered 429; the SDK retries it after its throttled delay.
    @Test func a429IsRetriedAfterTheThrottledDelayAndA404EndsTheOperation() {
        var m = DeviceStateMachine(deviceID: "d1", config: DeviceConfig(scenario: Self.scenario()), seed: 1)
        _ = Self.connect(&m, at: .zero)
        var a: [DeviceAction] = []
        m.packetReceived(Self.answer(429, rid: 1), now: Self.ms(10), into: &a)
        let retryAt = a.compactMap { if case .schedule(.twin, let at) = $0 { at } else { nil } }.last
        #expect(retryAt != nil && retryAt! > Self.ms(10), "\(a)")
        #expect(Self.twinWrites(a).isEmpty, "no request before the retry delay")
        a.removeAll()
        m.timerFired(.twin, deadline: retryAt!, now: retryAt!, into: &a)
        #expect(Self.twinWrites(a) == ["$iothub/twin/GET/?$rid=2"])
        a.removeAll()
        m.packetReceived(Self.answer(404, rid: 2), now: retryAt! + .milliseconds(5), into: &a)
        #expect(a.contains(.record(.twinGaveUp(update: false))))
        #expect(m.openTwinOperations == 0)
        // A late or foreign answer changes nothing.
        a.removeAll()
        m.packetReceived(Self.answer(200, rid: 1), now: retryAt! + .milliseconds(6), into: &a)
        #expect(a.isEmpty)
    }

    @Test func reportsOnTheirGridAndGivesUpAtTheTimeout() {
        var m = DeviceStateMachine(
            deviceID: "d1",
            config: DeviceConfig(scenario: Self.scenario(get: false, report: .seconds(10))),
            seed: 1
        )
        var a = Self.connect(&m, at: .zero)
        #expect(Self.twinWrites(a) == ["$iothub/twin/PATCH/properties/reported/?$rid=1"])
        #expect(a.contains(.schedule(.twin, Self.ms(10_000))), "the next report at 10 s, before the 30 s deadline")
        let body = a.compactMap { if case .write(.publish(let p)) = $0 { p.payload } else { nil } }.first
        #expect(body?.readableBytes == 40 && body.map { String(buffer: $0) }?.hasPrefix(#"{"fleetstorm":"#) == true)
        a.removeAll()
        m.packetReceived(Self.answer(204, rid: 1), now: Self.ms(5), into: &a)
        #expect(a.contains(.record(.twinCompleted(update: true, latency: .milliseconds(5)))))
        #expect(!a.contains(.schedule(.twin, Self.ms(30_000))), "the deadline went with the operation: \(a)")
        a.removeAll()
        m.timerFired(.twin, deadline: Self.ms(10_000), now: Self.ms(10_000), into: &a)
        #expect(Self.twinWrites(a) == ["$iothub/twin/PATCH/properties/reported/?$rid=2"])
        // No answer: the operation gives up 30 s after its request.
        a.removeAll()
        m.timerFired(.twin, deadline: Self.ms(20_000), now: Self.ms(20_000), into: &a)
        #expect(Self.twinWrites(a) == [], "a report due while one waits is the same report")
        m.timerFired(.twin, deadline: Self.ms(40_000), now: Self.ms(40_000), into: &a)
        #expect(a.contains(.record(.twinUnanswered(update: true))))
        #expect(a.contains(.record(.twinGaveUp(update: true))))
    }

    /// Found by the fleet test (the random orders had not met it): a report that gives up at the very instant the next
    /// report is due is one operation ended and a new one begun, each counted once.
    @Test func aReportGivingUpWhenTheNextIsDueCountsBoth() {
        var s = Self.scenario(get: false, report: .seconds(10))
        s.twin.timeout = .seconds(10)
        var m = DeviceStateMachine(deviceID: "d1", config: DeviceConfig(scenario: s), seed: 1)
        var a = Self.connect(&m, at: .zero)
        #expect(a.filter { $0 == .record(.twinOperation(update: true)) }.count == 1)
        a.removeAll()
        m.timerFired(.twin, deadline: Self.ms(10_000), now: Self.ms(10_000), into: &a)
        #expect(a.contains(.record(.twinGaveUp(update: true))))
        #expect(a.contains(.record(.twinOperation(update: true))), "the next report is a new operation: \(a)")
        #expect(Self.twinWrites(a) == ["$iothub/twin/PATCH/properties/reported/?$rid=2"])
        #expect(m.openTwinOperations == 1)
    }

    @Test func aRequestWhoseConnectionEndsIsAskedAgain() {
        var m = DeviceStateMachine(deviceID: "d1", config: DeviceConfig(scenario: Self.scenario()), seed: 1)
        _ = Self.connect(&m, at: .zero)
        var a: [DeviceAction] = []
        m.channelClosed(now: Self.ms(1), into: &a)
        #expect(a.contains(.record(.twinUnanswered(update: false))))
        #expect(m.openTwinOperations == 1 && m.pendingTwinRequests == 0)
        a.removeAll()
        m.timerFired(.backoff, deadline: Self.ms(100), now: Self.ms(100), into: &a)
        m.connectSucceeded(now: Self.ms(100), into: &a)
        m.packetReceived(.connack(MQTTConnAck(code: 0)), now: Self.ms(101), into: &a)
        #expect(!a.contains(.record(.twinOperation(update: false))), "the same GET, not a new operation")
    }

    /// Profiles: a transport without twin is refused with the key named; MQTT and AMQP devices (pooled too) have it.
    @Test func twinNeedsMQTTOrAMQPDevices() throws {
        let loader = ScenarioLoader()
        let ok = try loader.load(yaml: "twin: {get_on_connect: true, report_interval: 30s}", source: "t.yaml")
        #expect(ok.twin.getOnConnect && ok.twin.reportInterval == .seconds(30) && ok.twin.timeout == .seconds(60))
        let amqp = try loader.load(
            yaml: "hub: {url: embedded, amqp: true}\namqp: {devices_per_connection: 10}\ntwin: {report_interval: 10s}",
            source: "t.yaml"
        )
        #expect(amqp.twin.reportInterval == .seconds(10))
        for (yaml, words) in [
            ("hub: {url: embedded, https: true}\ntwin: {get_on_connect: true}", "HTTPS device API has no twin"),
            ("twin: {report_interval: 10ms}", "at least 100ms"),
            ("twin: {report_bytes: 40000}", "report_bytes"),
        ] {
            #expect(throws: ScenarioError.self) { try loader.load(yaml: yaml, source: "t.yaml") }
            do {
                _ = try loader.load(yaml: yaml, source: "t.yaml")
            } catch {
                #expect("\(error)".contains(words), "\(error)")
                #expect("\(error)".contains("twin."), "names the key: \(error)")
            }
        }
    }

    /// Random event orders with twin operations on: never traps; every request written is answered, unanswered or
    /// still waiting, every operation completed, given up or still open — from the recorded events against what the
    /// device holds; after the end nothing is left open.
    @Test("random orders: twin requests and operations balance", arguments: [UInt64(11), 12, 13, 14])
    func randomOrders(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var total = TwinTally()
        for device in 0..<300 {
            var s = DeviceStatePropertyTests.scenario(&rng)
            s.twin.getOnConnect = Bool.random(using: &rng)
            s.twin.reportInterval =
                Bool.random(using: &rng) ? .milliseconds(Int64.random(in: 100...900, using: &rng)) : .zero
            if !s.twin.isEnabled { s.twin.getOnConnect = true }
            // Timeouts and intervals on a 100 ms grid, and times too, so deadlines and report times coincide.
            s.twin.timeout = .milliseconds(100 * Int64.random(in: 1...30, using: &rng))
            if s.twin.reportInterval > .zero {
                s.twin.reportInterval = .milliseconds(100 * Int64.random(in: 1...9, using: &rng))
            }
            s.mqtt.subscribeC2D = Bool.random(using: &rng)
            var m = DeviceStateMachine(
                deviceID: "d\(device)",
                config: DeviceConfig(scenario: s),
                seed: seed &+ UInt64(device)
            )
            var counts = TwinTally()
            var now = Instant.zero
            var trail: [String] = []
            for _ in 0..<Int.random(in: 1...120, using: &rng) {
                now = now + .milliseconds(100 * Int64.random(in: 0...3, using: &rng))
                var a: [DeviceAction] = []
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:
                    // Mostly the waiting request's id (else a late or foreign one), so operations run their course.
                    let waiting = m.twin.value.map { Int($0.pendingRid) } ?? 0
                    let rid =
                        waiting != 0 && Int.random(in: 0..<4, using: &rng) > 0
                        ? waiting : Int.random(in: 0...8, using: &rng)
                    let status = [200, 204, 200, 204, 429, 429, 500, 404, 400].randomElement(using: &rng)!
                    m.packetReceived(Self.answer(status, rid: rid), now: now, into: &a)
                    trail.append("answer(\(status), \(rid))")
                case 1:
                    let id = m.session.subscribeID ?? UInt16.random(in: 1...4, using: &rng)
                    m.packetReceived(.suback(MQTTSubAck(packetID: id, codes: [0, 0])), now: now, into: &a)
                    trail.append("suback(\(id))")
                case 2:
                    m.timerFired(.twin, deadline: now, now: now, into: &a)
                    trail.append("timer(twin)")
                case 3:
                    // A whole accepted connect, so twin requests flow between the random events.
                    m.timerFired(.backoff, deadline: now, now: now, into: &a)
                    m.start(now: now, into: &a)
                    m.connectSucceeded(now: now, into: &a)
                    m.packetReceived(.connack(MQTTConnAck(code: 0)), now: now, into: &a)
                    trail.append("connect")
                default:
                    trail.append(DeviceStatePropertyTests.feed(&m, now: now, &rng, into: &a))
                }
                counts.add(a)
                #expect(
                    counts.requests == counts.answers + counts.unanswered + m.pendingTwinRequests,
                    "seed \(seed) device \(device): requests \(counts) after \(trail)"
                )
                #expect(
                    counts.operations == counts.completed + counts.gaveUp + m.openTwinOperations,
                    "seed \(seed) device \(device): operations \(counts) after \(trail)"
                )
            }
            var a: [DeviceAction] = []
            m.stop(now: now, into: &a)
            m.channelClosed(now: now + .milliseconds(1), into: &a)
            counts.add(a)
            #expect(m.pendingTwinRequests == 0 && m.openTwinOperations == 0, "seed \(seed) device \(device): \(trail)")
            #expect(counts.requests == counts.answers + counts.unanswered, "seed \(seed) device \(device): \(trail)")
            #expect(counts.operations == counts.completed + counts.gaveUp, "seed \(seed) device \(device): \(trail)")
            total.add(counts)
        }
        // The random orders reach every part of the twin's life, or they check nothing.
        #expect(total.completed > 20 && total.gaveUp > 50 && total.unanswered > 20, "seed \(seed): \(total)")
        #expect(total.answers > total.completed, "429s and 4xx among the answers: \(total)")
    }

    struct TwinTally: CustomStringConvertible {
        var operations = 0, requests = 0, answers = 0, unanswered = 0, completed = 0, gaveUp = 0

        mutating func add(_ o: TwinTally) {
            operations += o.operations
            requests += o.requests
            answers += o.answers
            unanswered += o.unanswered
            completed += o.completed
            gaveUp += o.gaveUp
        }

        mutating func add(_ actions: [DeviceAction]) {
            for case .record(let e) in actions {
                switch e {
                case .twinOperation: operations += 1
                case .twinRequest: requests += 1
                case .twinAnswer: answers += 1
                case .twinUnanswered: unanswered += 1
                case .twinCompleted: completed += 1
                case .twinGaveUp, .twinOpenAtStop: gaveUp += 1
                default: break
                }
            }
        }

        var description: String {
            "ops \(operations) = completed \(completed) + gave up \(gaveUp) + open; "
                + "requests \(requests) = answered \(answers) + unanswered \(unanswered) + waiting"
        }
    }
}
