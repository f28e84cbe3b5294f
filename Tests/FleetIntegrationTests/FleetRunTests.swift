import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetMetrics
import FleetService
import Foundation
import Synchronization
import Testing

/// Adapts the test hub to the engine's protocol (the CLI does the same).
extension IntegrationTests {
    @Suite("Fleet runs over loopback TCP", .serialized)
    struct FleetRunTests {
        static func scenario(
            devices: Int,
            messages: Int,
            version: String = "3.1.1",
            policy: String = "azure-dotnet"
        ) throws -> Scenario {
            try ScenarioLoader().load(
                yaml: """
                    name: it
                    duration: 60s
                    fleet: {devices: \(devices), ramp_rate: 0, max_in_flight: 100}
                    mqtt: {version: "\(version)", keep_alive: 30s}
                    telemetry: {messages: \(messages), interval: 20ms, payload_bytes: 32}
                    sdk: \(SDK(name: policy)?.name ?? "azure-dotnet")
                    retry: {policy: \(policy)}
                    """,
                source: "test"
            )
        }

        @Test("embedded hub: every message acked, counts match on both sides", arguments: ["3.1.1", "5"])
        func embeddedHub(version: String) async throws {
            let s = try Self.scenario(devices: 200, messages: 3, version: version)
            let result = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
            let c = result.snapshot.counters
            #expect(c.connectAttempts == 200)
            #expect(c.connected == 200)
            #expect(c.generated == 600)
            #expect(c.acked == 600)
            #expect(c.failed == 0 && c.pending == 0)
            #expect(c.outcomes == ["completed": 200])
            #expect(result.snapshot.summary(Snapshot.connect).count == 200)
            #expect(result.snapshot.summary(Snapshot.publishAck).count == 600)
            #expect(result.snapshot.connectedNow == 0, "every connection ended")
            #expect(!result.hitDeadline)
            let hub = try #require(result.hub)
            #expect(hub.connectionsAccepted == 200)
            #expect(hub.messagesReceived == 600)
            #expect(hub.devicesSeen == 200)
            #expect(hub.protocolErrors == 0)
        }

        /// `max_in_flight: auto`: the window starts at 16 and adapts; the run records it as the `connect_window`
        /// gauge (within its bounds: the minimum and the fleet's size), every device connects; a fixed window
        /// records no such series.
        @Test func adaptiveConnectWindowIsRecorded() async throws {
            var s = try Self.scenario(devices: 400, messages: 1)
            s.fleet.adaptiveWindow = true
            s.fleet.maxInFlight = Scenario.Fleet.largestWindow
            let result = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
            #expect(result.snapshot.counters.connected == 400)
            let window = result.snapshot.series.series(.connectWindow)
            #expect(
                !window.isEmpty && window.allSatisfy { $0 >= UInt64(ConnectWindow.minimum) && $0 <= 400 },
                "\(window)"
            )
            let fixed = try await FleetRunner(
                scenario: try Self.scenario(devices: 50, messages: 1),
                hub: EmbeddedTestHub(hub: TestHub())
            ).run()
            #expect(fixed.snapshot.series.series(.connectWindow).allSatisfy { $0 == 0 })
        }

        @Test(
            "mosquitto as a real broker: 200 devices",
            .enabled(if: Env.which("mosquitto") != nil || Env.isCI, "mosquitto not installed (CI installs it)")
        )
        func mosquitto() async throws {
            let binary = try #require(Env.which("mosquitto"), "mosquitto not found on PATH; .ci/run installs it")
            let broker = try Mosquitto(binary: binary)
            var s = try Self.scenario(devices: 200, messages: 3)
            s.hub = .mqtt(host: "127.0.0.1", port: broker.port)
            let result = try await FleetRunner(scenario: s, hub: nil).run()
            let c = result.snapshot.counters
            #expect(c.connected == 200)
            #expect(c.generated == 600)
            #expect(c.acked == 600)
            #expect(c.outcomes == ["completed": 200])
            #expect(result.hub == nil)
            withExtendedLifetime(broker) {}
        }

        @Test func deadlineStopsTheFleetAndKeepsAccounting() async throws {
            var s = try Self.scenario(devices: 50, messages: 1000)
            s.duration = .milliseconds(400)
            let result = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
            let c = result.snapshot.counters
            #expect(result.hitDeadline)
            #expect(c.outcomes["stopped"] == 50)
            #expect(c.generated > 0 && c.generated < 50_000)
            #expect(c.generated == c.acked + c.failed + c.pending)
        }

        @Test func cancellationStopsTheRunAndStillReturnsAResult() async throws {
            var s = try Self.scenario(devices: 20, messages: 100_000)
            s.duration = .seconds(60)
            var runner = FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub()))
            // Cancel as soon as the first acknowledgement shows in the progress feed.
            let (flowing, signal) = AsyncStream<Void>.makeStream()
            runner.progressInterval = .milliseconds(10)
            runner.progress = { p in if p.acked > 0 { signal.yield() } }
            let configured = runner
            let task = Task { try await configured.run() }
            var it = flowing.makeAsyncIterator()
            _ = await it.next()
            task.cancel()
            let result = try await task.value
            #expect(result.cancelled)
            #expect(result.snapshot.counters.finishedDevices == 20)
        }

        @Test func unreachableHubIsOneClearError() async throws {
            var s = try Self.scenario(devices: 5, messages: 1)
            s.hub = .mqtt(host: "127.0.0.1", port: try Env.freePort())
            do {
                _ = try await FleetRunner(scenario: s, hub: nil).run()
                Issue.record("expected an error")
            } catch let error as FleetRunError {
                #expect(error.code == .hubUnreachable)
                #expect(error.description.contains("cannot reach the hub at mqtt://127.0.0.1:"))
                // Our words, not NIO's: a refusal is called a refusal, and no library internals leak.
                #expect(error.description.contains("connection refused"), "\(error)")
                #expect(!error.description.contains("SingleConnectionFailure") && !error.description.contains("errno"))
            }
        }

        @Test func fleetTooLargeForTheDescriptorLimitIsRefusedBeforeConnecting() async throws {
            let s = try Self.scenario(devices: 50_000, messages: 1)
            do {
                _ = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
                Issue.record("expected an error")
            } catch let error as FleetRunError {
                #expect(error.code == .descriptorLimit)
                #expect(error.description.contains("need 100064 descriptors in one process, the limit is"))
                #expect(error.description.contains("--processes 3"), "\(error)")
            }
        }

        @Test func connectFailuresEndDevicesWithAnOutcome() async throws {
            // A listener that accepts nothing useful: the port is closed right after the probe would succeed.
            var s = try Self.scenario(devices: 10, messages: 1, policy: "none")
            s.mqtt.connackTimeout = .milliseconds(200)
            let silent = try await SilentServer.start()
            s.hub = .mqtt(host: "127.0.0.1", port: silent.port)
            let result = try await FleetRunner(scenario: s, hub: nil).run()
            #expect(result.snapshot.counters.outcomes == ["connack_timeout": 10])
            #expect(
                result.snapshot.counters.finalStatuses == [
                    FinalStatus(status: "Disconnected", reason: "Retry_Expired"): 10
                ]
            )
            await silent.stop()
        }
    }
}

extension IntegrationTests {
    @Suite("Reconnect storms over loopback TCP", .serialized)
    struct StormRunTests {
        /// A hub-wide drop mid-run: every device notices, retries with its policy, reconnects, and still accounts for
        /// every message. Devices are split across two presets by running two fleets (one profile each).
        @Test("hub drop: devices reconnect with their preset", arguments: ["azure-dotnet", "azure-c", "full-jitter"])
        func hubDrop(policy: String) async throws {
            var s = try FleetRunTests.scenario(devices: 100, messages: 80, policy: policy)
            s.telemetry.interval = .milliseconds(25)
            // The drop comes well after every device is connected, even on a loaded machine.
            s.faults = [Scenario.Fault(at: .milliseconds(1200), kind: .drop)]
            let result = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
            let c = result.snapshot.counters
            #expect(c.outcomes == ["completed": 100])
            #expect(c.reconnects == 100)
            #expect(c.retries >= 100)
            #expect(c.generated == 8000)
            #expect(c.generated == c.acked + c.failed + c.pending)
            #expect(c.pending == 0)
            let retrying = StatusTransition(
                from: "Connected",
                to: "Disconnected_Retrying",
                reason: "Communication_Error"
            )
            #expect(c.transitions[retrying] == 100)
            #expect(c.finalStatuses == [FinalStatus(status: "Disabled", reason: "Client_Close"): 100])
            let firstWait = result.snapshot.summary(Snapshot.retryDelay(attempt: 1))
            switch policy {
            case "azure-dotnet":
                #expect(
                    firstWait.p50 >= 99_000_000 && firstWait.max <= 101_000_000,
                    "first wait after a drop is 100 ms"
                )
            case "azure-c": #expect(firstWait.max < 1_000, "the C SDK retries at once")
            default: #expect(firstWait.max <= 100_100_000, "full jitter: U(0, 100 ms)")
            }
            let hub = try #require(result.hub)
            #expect(hub.connectionsAccepted == UInt64(100 + c.reconnects))
            // The series add up to the counters, and show the storm: every device retries in a short span.
            let series = result.snapshot.series
            #expect(series.series(.attempts).reduce(0, +) == c.connectAttempts)
            #expect(series.series(.acked).reduce(0, +) == c.acked)
            #expect(series.series(.connected).last == 0, "everyone disconnected at the end")
        }

        /// The issue's acceptance run in small: SDK cohorts through one hub drop, each with the first retry wait its
        /// SDK's reference table predicts, statuses per cohort, and exact accounting.
        @Test func mixedPresetsThroughADrop() async throws {
            var s = try ScenarioLoader.files.load(
                path: Env.repo.appendingPathComponent("profiles/mixed-sdk-storm.yaml").path,
                overrides: [
                    "fleet.devices=200", "telemetry.messages=40", "telemetry.interval=50ms",
                    "faults=[{at: 1200ms, kind: drop}]",
                ]
            )
            s.duration = .seconds(60)
            let result = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
            #expect(result.cohorts.map(\.name) == ["dotnet", "java", "node", "c", "python"])
            #expect(result.cohorts.map(\.devices) == [60, 40, 40, 40, 20])
            // First wait after a drop (ms), reference §1.7 row 1: .NET 100, Java 0, Node 100 (cMin), C 0, Python 10.
            let expected: [String: (Double, Double)] = [
                "dotnet": (99, 101), "java": (0, 0.01), "node": (99, 101), "c": (0, 0.01), "python": (9.9, 10.1),
            ]
            for cohort in result.cohorts {
                let c = cohort.snapshot.counters
                #expect(c.outcomes == ["completed": UInt64(cohort.devices)], "\(cohort.name)")
                #expect(c.reconnects == UInt64(cohort.devices), "\(cohort.name)")
                #expect(c.generated == c.acked + c.failed + c.pending)
                let first = cohort.snapshot.summary(Snapshot.retryDelay(attempt: 1))
                let (lo, hi) = try #require(expected[cohort.name])
                #expect(Double(first.p50) / 1e6 >= lo && Double(first.max) / 1e6 <= hi, "\(cohort.name): \(first)")
                // Reference §2.3: Java reports a retryable transport loss as NO_NETWORK.
                let retrying = StatusTransition(
                    from: "Connected",
                    to: "Disconnected_Retrying",
                    reason: cohort.policy == "azure-java" ? "No_Network" : "Communication_Error"
                )
                #expect(c.transitions[retrying] == UInt64(cohort.devices))
            }
            #expect(result.snapshot.counters.outcomes == ["completed": 200])
        }

        /// The SDK-style callbacks see every status change (with the last error) and every send completion.
        @Test func callbacksSeeStatusChangesAndSendCompletions() async throws {
            var s = try FleetRunTests.scenario(devices: 20, messages: 60, policy: "azure-c")
            s.telemetry.interval = .milliseconds(20)
            s.faults = [Scenario.Fault(at: .milliseconds(800), kind: .drop)]
            let seen = Mutex<(statuses: [String: Int], retryingErrors: Int, acked: Int, failed: Int)>(([:], 0, 0, 0))
            var runner = FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub()))
            runner.callbacks.statusChanged = { _, status, reason, lastError in
                seen.withLock {
                    $0.statuses["\(status.rawValue)/\(reason.rawValue)", default: 0] += 1
                    if status == .disconnectedRetrying && lastError == .connectionLost { $0.retryingErrors += 1 }
                }
            }
            runner.callbacks.sendCompleted = { _, result in
                seen.withLock {
                    switch result {
                    case .acked: $0.acked += 1
                    case .failed(_, let n): $0.failed += n
                    }
                }
            }
            let result = try await runner.run()
            let c = result.snapshot.counters
            let got = seen.withLock { $0 }
            #expect(got.statuses["Connected/Connection_Ok"] == 40, "connect and reconnect of 20 devices")
            #expect(got.statuses["Disconnected_Retrying/No_Network"] == nil)
            #expect(got.statuses["Disconnected_Retrying/Communication_Error"] == 20)
            #expect(got.retryingErrors == 20, "lastError is the lost connection")
            #expect(UInt64(got.acked) == c.acked && UInt64(got.failed) == c.failed)
        }

        /// "Switching networks": each reconnect of a device comes from the next address of the source pool.
        @Test func reconnectsRotateTheSourceAddress() async throws {
            var s = try FleetRunTests.scenario(devices: 6, messages: 60, policy: "azure-c")
            s.telemetry.interval = .milliseconds(20)
            s.fleet.sourceAddresses = ["127.0.0.1", "127.0.0.2"]
            s.faults = [Scenario.Fault(at: .milliseconds(800), kind: .drop)]
            let result = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
            let hub = try #require(result.hub)
            #expect(hub.sourceAddressesByDevice.count == 6)
            for (device, sources) in hub.sourceAddressesByDevice {
                #expect(sources == ["127.0.0.1", "127.0.0.2"], "\(device) reconnected from \(sources)")
            }
        }
    }
}
