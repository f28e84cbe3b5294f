import FleetMQTT
import FleetMetrics
import FleetTesting
import Testing

@testable import FleetCore

/// Devices against hub sessions through the real codec, in virtual time: deterministic end-to-end accounting.
@Suite("In-memory fleet in virtual time")
struct InMemoryFleetTests {
    @Test("every message is acknowledged and latency is exactly the round trip", arguments: [MQTTVersion.v311, .v5])
    func allAcked(version: MQTTVersion) {
        var s = Scenario()
        s.fleet.devices = 50
        s.telemetry.messages = 4
        s.telemetry.interval = .milliseconds(250)
        s.mqtt.version = version
        var fleet = InMemoryFleet(scenario: s, latency: .milliseconds(5))
        fleet.run(spacing: .milliseconds(2), until: Instant(nanoseconds: 60_000_000_000))
        let snap = fleet.recorder.capture()
        #expect(snap.counters.generated == 200)
        #expect(snap.counters.acked == 200)
        #expect(snap.counters.failed == 0)
        #expect(snap.counters.outcomes["completed"] == 50)
        #expect(fleet.hubStats.messagesReceived == 200)
        #expect(fleet.hubStats.devicesSeen == 50)
        // connect = TCP (2 × 5 ms) is before the start of the measurement; CONNECT → CONNACK is 2 × 5 ms.
        #expect(snap.summary(Snapshot.connect).max >= 19_000_000 && snap.summary(Snapshot.connect).max <= 21_000_000)
        let ack = snap.summary(Snapshot.publishAck)
        #expect(ack.p50 >= 9_900_000 && ack.max <= 10_200_000, "PUBLISH → PUBACK is 2 × 5 ms in virtual time")
    }

    @Test(
        "a dropped link: in-flight message fails, the device retries and completes",
        arguments: ["azure-dotnet", "none"]
    )
    func droppedConnection(policy: String) throws {
        var s = Scenario()
        s.fleet.devices = 3
        s.telemetry.messages = 10
        s.telemetry.interval = .milliseconds(100)
        s.retry.policy = try RetryPolicy.make(name: policy)
        s.sdk = SDK(name: policy) ?? .dotnet
        var fleet = InMemoryFleet(scenario: s, latency: .milliseconds(20))
        // Device 1 connects at 80 ms and sends every 100 ms (acked 40 ms later); at 300 ms the 280 ms message is in
        // flight.
        fleet.scheduleDrop(device: 1, at: Instant(nanoseconds: 300_000_000))
        fleet.run(until: Instant(nanoseconds: 60_000_000_000))
        let c = fleet.recorder.capture().counters
        #expect(c.generated == c.acked + c.failed, "conservation: nothing pending once all devices ended")
        let retrying = StatusTransition(from: "Connected", to: "Disconnected_Retrying", reason: "Communication_Error")
        if policy == "none" {
            #expect(c.outcomes == ["completed": 2, "connection_lost": 1])
            #expect(c.failedByReason == ["abandoned": 1], "the in-flight message is abandoned when the device gives up")
            #expect(c.finalStatuses[FinalStatus(status: "Disconnected", reason: "Retry_Expired")] == 1)
            #expect(c.transitions[retrying] == nil)
        } else {
            // 100 ms wait, then 40 ms TCP + 40 ms CONNECT/CONNACK: back at 480 ms; the 400 ms message was due offline.
            #expect(c.outcomes == ["completed": 3])
            #expect(c.reconnects == 1)
            #expect(c.transitions[retrying] == 1)
            #expect(c.failed == 0, "the in-flight message is redelivered, the one due offline was queued")
            #expect(c.generated == 30 && c.acked == 30)
            #expect(fleet.hubStats.messagesReceived == 31, "the hub got the in-flight one before the drop")
            #expect(fleet.hubStats.duplicates == 1, "its redelivery is recognised by its message id")
            #expect(fleet.hubStats.outOfOrder == 0)
            let reconnect = fleet.recorder.capture().summary(Snapshot.reconnect)
            #expect(
                reconnect.count == 1 && abs(Double(reconnect.max) - 180e6) < 1e6,
                "drop at 300 ms, CONNACK at 480 ms"
            )
        }
    }
}
