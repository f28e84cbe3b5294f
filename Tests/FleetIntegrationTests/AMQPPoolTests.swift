import FleetCore
import FleetEngine
import FleetHub
import FleetMetrics
import FleetService
import Synchronization
import Testing

extension IntegrationTests {
    /// Pooled AMQP connections against the embedded hub (reference §11.1: the .NET SDK carries up to 995 devices on
    /// one connection).
    ///
    /// The test drives the drop, not the clock: the hub drops when the last device has reported Connected, and the
    /// run stops when the fallen devices are back. 2,000 CBS handshakes on a busy machine can outlast any fixed
    /// delay, and a drop that finds devices mid-handshake or already finished tests something else.
    @Suite("AMQP pooled connections")
    struct AMQPPoolTests {
        static let auth =
            "auth: {mode: sas, hub_host: myhub.local, group_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}"

        /// What the devices reported through the SDK-style status callback, counted apart from the engine's counters.
        struct Seen {
            var up: Set<String> = []
            var lostBeforeDrop = 0
            var lostAfterDrop: Set<String> = []
            var backAfterDrop = 0
            var dropped = false
            var closedByHub: Int?
        }

        /// Runs `yaml` (no faults; more messages than the test needs) against its embedded hub; once `devices`
        /// devices have reported Connected, applies `fault` on the hub; once `back` devices have reconnected, stops
        /// the run. Returns the run, how many connections the hub's fault closed, and the devices the callback saw
        /// lose their connection after it.
        static func runDroppingWhenUp(
            _ yaml: String,
            devices: Int,
            back: Int,
            fault: Scenario.Fault
        ) async throws
            -> (result: RunResult, closedByHub: Int, lost: Set<String>)
        {
            var scenario = try ScenarioLoader().load(yaml: yaml, source: "amqp-pool")
            let hub = try RunService.embeddedTestHub(for: &scenario)
            let seen = Mutex(Seen())
            let (recovered, signal) = AsyncStream<Void>.makeStream()
            var runner = FleetRunner(scenario: scenario, hub: hub)
            runner.callbacks.statusChanged = { device, status, _, _ in
                seen.withLock { s in
                    switch status {
                    case .connected:
                        s.up.insert(device)
                        if !s.dropped && s.up.count == devices {
                            // Queued on the hub's loop from here, not from a task that waits for the concurrency pool.
                            s.dropped = true
                            hub.hub.inject(.pulse, fault: fault, index: 0) { closed in
                                seen.withLock { $0.closedByHub = closed }
                            }
                        } else if s.dropped {
                            s.backAfterDrop += 1
                            if s.backAfterDrop == back { signal.yield() }
                        }
                    case .disconnectedRetrying, .disconnected:
                        // A loss, not a failed attempt: the device was up.
                        guard s.up.remove(device) != nil else { break }
                        if !s.dropped { s.lostBeforeDrop += 1 } else { s.lostAfterDrop.insert(device) }
                    default:
                        break
                    }
                }
            }
            let run = Task { try await runner.run() }
            let stopper = Task {
                for await _ in recovered { break }
                run.cancel()
            }
            let result = try await run.value
            stopper.cancel()
            let (dropped, closed, lostBefore, lost) = seen.withLock {
                ($0.dropped, $0.closedByHub, $0.lostBeforeDrop, $0.lostAfterDrop)
            }
            #expect(dropped, "the fleet never had all \(devices) devices connected at once")
            let closedByHub = try #require(closed, "the hub applied the drop before it stopped")
            #expect(lostBefore == 0, "devices lost their connection before the drop")
            #expect(result.snapshot.counters.outcomes == ["stopped": UInt64(devices)], "the test stopped the run")
            return (result, closedByHub, lost)
        }

        @Test(
            "2,000 devices at 995 per connection ride 3 connections; a drop takes every device down, 3 new connections bring all 2,000 back, each counted once"
        )
        func pooledDrop() async throws {
            let (result, closed, lost) = try await Self.runDroppingWhenUp(
                """
                seed: 995
                duration: 120s
                hub: {url: embedded, amqp: true}
                \(Self.auth)
                fleet: {devices: 2000, ramp_rate: 0, max_in_flight: 2000}
                telemetry: {messages: 1000, interval: 2s, qos: 1}
                sdk: azure-dotnet
                amqp: {devices_per_connection: 995}
                retry: {policy: fixed, base: 200ms}
                """,
                devices: 2000,
                back: 2000,
                fault: Scenario.Fault(at: .zero, kind: .drop)
            )
            let c = result.snapshot.counters
            let hub = try #require(result.hub)
            // The books balance (pending: what the devices still held when the test stopped them), and the hub holds
            // every acknowledged message once.
            #expect(c.imbalance == 0 && c.failed == 0)
            let unique = hub.messagesReceived - hub.duplicates
            #expect(unique >= c.acked && unique <= c.acked + c.pending, "hub \(unique), acked \(c.acked)")
            // Network connections, counted by the hub's AMQP front: 3 before the drop, 3 after (2,000 / 995 → 3).
            #expect(hub.amqpConnections == 6, "AMQP connections opened: \(hub.amqpConnections)")
            // The drop as the hub counted it (device sessions it closed) and as the devices saw it (callback), and
            // each device back once: counted by the devices' engine and by the hub's sessions.
            #expect(closed == 2000, "sessions the drop closed: \(closed)")
            #expect(lost.count == 2000, "devices that saw the loss: \(lost.count)")
            #expect(c.reconnects == 2000)
            #expect(c.connected == 4000)
            #expect(hub.connectionsAccepted == 4000)
            let lostToRetrying = StatusTransition(
                from: "Connected",
                to: "Disconnected_Retrying",
                reason: "Communication_Error"
            )
            #expect(c.transitions[lostToRetrying] == 2000)
            #expect(hub.protocolErrors == 0)
        }

        @Test(
            "a drop that chooses one pooled device closes its whole connection: the 500 devices on it fall and return, the other 500 stay (as FleetSim models it)"
        )
        func oneDeviceTakesItsConnection() async throws {
            let (result, closed, lost) = try await Self.runDroppingWhenUp(
                """
                seed: 31
                duration: 120s
                hub: {url: embedded, amqp: true}
                \(Self.auth)
                fleet: {devices: 1000, ramp_rate: 0, max_in_flight: 1000}
                telemetry: {messages: 1000, interval: 2s, qos: 1}
                sdk: azure-dotnet
                amqp: {devices_per_connection: 995, pool_size: 2}
                retry: {policy: fixed, base: 200ms}
                """,
                devices: 1000,
                back: 500,
                fault: Scenario.Fault(at: .zero, kind: .drop, target: FaultTarget(idPattern: "device-00007"))
            )
            let c = result.snapshot.counters
            let hub = try #require(result.hub)
            #expect(c.imbalance == 0 && c.failed == 0)
            #expect(hub.amqpConnections == 3, "2 connections, then the dropped one again: \(hub.amqpConnections)")
            #expect(closed == 1, "the hub's fault chose one device")
            // Device j rides connection j % 2: device-00007 is odd, so the odd devices fell with it.
            #expect(lost.count == 500, "the chosen device's connection carried 500: \(lost.count)")
            #expect(
                lost.allSatisfy { (Int($0.suffix(5)) ?? 0) % 2 == 1 },
                "only the odd devices: \(lost.sorted().prefix(3))"
            )
            #expect(c.reconnects == 500)
        }
    }
}
