import FleetMQTT
import Testing

@testable import FleetCore

/// When each SDK stops retrying, quoted from the reference (../shared/reference, §1 and §1.7 "give up"):
/// - .NET: "Background reconnect after a connection drop has no time limit"; every operation (OpenAsync) runs inside
///   a CancellationTokenSource of 240 000 ms.
/// - Java: "Reconnection stops when now − reconnectionStartTime > operationTimeout" (4·60·1000 ms); open(withRetry)
///   retries until the 4-min timeout.
/// - Node: "give up with the last error if now ≥ start + maxTimeout", MAX_OPERATION_TIMEOUT = 240000 ms.
/// - C: "Default: EXPONENTIAL_BACKOFF_WITH_JITTER, timeout 0 (retry forever)".
/// - Python: "fixed 10 s, no jitter, no limit".
/// A hub that refuses every connect for 5 minutes: Retry_Expired exactly where the SDK gives up, and nowhere else.
@Suite("SDK time limits: a 5-minute outage")
struct SDKTimeLimitTests {
    /// Plays one device in virtual time: timers fire when due, each attempt's TCP connect is refused 50 ms after it
    /// starts. Returns when the device gave up (the instant and its status reason), or nil if it was still retrying.
    static func outage(sdk: SDK, connectFirst: Bool, minutes: Int64 = 5) -> (at: Int64, reason: StatusReason)? {
        var s = Scenario()
        s.sdk = sdk
        s.retry = sdk.defaultRetry
        s.telemetry.messages = 1_000_000
        var m = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: s), seed: 7)
        var timers: [DeviceTimer: Int64] = [:]
        var refuseAt: Int64?
        var now: Int64 = 0
        func apply(_ actions: [DeviceAction]) {
            for a in actions {
                switch a {
                case .schedule(let k, let at): timers[k] = at.nanoseconds
                case .cancel(let k): timers[k] = nil
                case .connect: refuseAt = now + 50_000_000
                default: break
                }
            }
        }
        var a: [DeviceAction] = []
        m.start(now: .zero, into: &a)
        apply(a)
        var lossAt: Int64 = 0
        if connectFirst {
            // Connected at 10 ms; the hub goes away at 1 s.
            refuseAt = nil
            now = 10_000_000
            a = []
            m.connectSucceeded(now: Instant(nanoseconds: now), into: &a)
            m.packetReceived(.connack(MQTTConnAck()), now: Instant(nanoseconds: now), into: &a)
            apply(a)
            timers[.telemetry] = nil
            timers[.keepAlive] = nil
            now = 1_000_000_000
            a = []
            m.channelClosed(error: .reset, now: Instant(nanoseconds: now), into: &a)
            apply(a)
            lossAt = now
        }
        let end = lossAt + minutes * 60_000_000_000
        while m.outcome == nil {
            let nextTimer = timers.filter { $0.key != .telemetry && $0.key != .keepAlive }.min { $0.value < $1.value }
            let next = [nextTimer?.value, refuseAt].compactMap { $0 }.min()
            guard let next, next <= end else { return nil }
            now = max(now, next)
            a = []
            if refuseAt == next {
                refuseAt = nil
                m.channelClosed(error: .refused, now: Instant(nanoseconds: now), into: &a)
            } else if let (kind, _) = nextTimer {
                timers[kind] = nil
                m.timerFired(kind, deadline: Instant(nanoseconds: next), now: Instant(nanoseconds: now), into: &a)
            }
            apply(a)
        }
        return (now - lossAt, m.statusReason)
    }

    static let fourMinutes: Int64 = 240_000_000_000

    @Test("reconnect after a drop", arguments: [SDK.dotnet, .java, .node, .c, .python, .mqtt])
    func reconnect(sdk: SDK) throws {
        let ended = Self.outage(sdk: sdk, connectFirst: true)
        switch sdk {
        case .java:
            // Checked when a wait ends, before the next attempt: the first attempt start past 240 s (waits ≤ 10 s).
            let e = try #require(ended, "Java gives up reconnecting after 4 minutes")
            #expect(e.reason == .retryExpired)
            #expect(e.at > Self.fourMinutes && e.at <= Self.fourMinutes + 10_100_000_000, "gave up at \(e.at) ns")
        case .node:
            // Checked when an attempt fails: the first failure at or past 240 s.
            let e = try #require(ended, "Node gives up after MAX_OPERATION_TIMEOUT")
            #expect(e.reason == .retryExpired)
            #expect(e.at >= Self.fourMinutes && e.at <= Self.fourMinutes + 10_100_000_000, "gave up at \(e.at) ns")
        default:
            #expect(ended == nil, "\(sdk) reconnects without a time limit, but gave up at \(String(describing: ended))")
        }
    }

    @Test("first connect (an open operation)", arguments: [SDK.dotnet, .java, .node, .c, .python, .mqtt])
    func open(sdk: SDK) throws {
        let ended = Self.outage(sdk: sdk, connectFirst: false)
        switch sdk {
        case .dotnet:
            // OpenAsync's cancellation token fires exactly 240 s after the open began, whatever is in progress.
            let e = try #require(ended, ".NET's open gives up after the 240 s operation timeout")
            #expect(e.reason == .retryExpired)
            #expect(e.at == Self.fourMinutes)
        case .java, .node:
            let e = try #require(ended)
            #expect(e.reason == .retryExpired)
            #expect(e.at >= Self.fourMinutes && e.at <= Self.fourMinutes + 10_100_000_000, "gave up at \(e.at) ns")
        default:
            #expect(
                ended == nil,
                "\(sdk) retries its first connect forever, but gave up at \(String(describing: ended))"
            )
        }
    }

    /// `retry.timeout` set in the profile replaces the SDK's limit (0: never).
    @Test func explicitTimeoutReplacesTheSDKLimit() throws {
        #expect(try RetryPolicy.make(name: "azure-java", parameters: ["timeout": "0"]).timeout == .zero)
        #expect(try RetryPolicy.make(name: "azure-java").timeout == nil, "presets leave the limit to the SDK")
    }

    /// Same full-jitter curve, two SDKs: each keeps its own keep-alive rule (reference §4.5) and classifier.
    @Test func theCurveDoesNotChangeTheSDK() throws {
        var s = Scenario()
        s.mqtt.keepAlive = .seconds(60)
        s.retry.policy = try RetryPolicy.make(name: "full-jitter")
        s.sdk = .dotnet
        let dotnet = DeviceConfig(scenario: s)
        s.sdk = .python
        let python = DeviceConfig(scenario: s)
        #expect(dotnet.pingIdle == .seconds(15) && dotnet.pingTimeout == .seconds(30) && !dotnet.pingOnReadSilence)
        #expect(python.pingIdle == .seconds(60) && python.pingOnReadSilence)
        #expect(dotnet.classifier.flavour == .dotnet && python.classifier.flavour == .python)
        #expect(dotnet.retry == python.retry)
    }
}
