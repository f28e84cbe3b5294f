import FleetCore
import FleetHubCore
import Testing

@Suite("Fault plans, targets and the hub's fault answers")
struct FaultPlanTests {
    @Test func globPatterns() {
        #expect(FaultTarget.glob("dev-*", matches: "dev-00042"))
        #expect(FaultTarget.glob("dev-0004?", matches: "dev-00042"))
        #expect(FaultTarget.glob("*42", matches: "dev-00042"))
        #expect(FaultTarget.glob("*", matches: ""))
        #expect(!FaultTarget.glob("dev-1*", matches: "dev-00042"))
        #expect(!FaultTarget.glob("dev-0004?", matches: "dev-000421"))
        #expect(FaultTarget.glob("a*b*c", matches: "axxbyybzc"))
        #expect(!FaultTarget.glob("a*b*c", matches: "axxbyyb"))
    }

    @Test func fractionSelectsAStableShareOfIds() {
        let ids = (0..<10_000).map { "device-\($0)" }
        let picked = ids.filter { FaultTarget.selects($0, fraction: 0.25, salt: 7) }
        #expect((2_350...2_650).contains(picked.count), "25 % of 10,000 ± 3 sigma, got \(picked.count)")
        // Same id, same salt: same answer (hub, proxy and simulation agree); another salt picks other devices.
        #expect(ids.filter { FaultTarget.selects($0, fraction: 0.25, salt: 7) } == picked)
        let other = Set(ids.filter { FaultTarget.selects($0, fraction: 0.25, salt: 8) })
        #expect(other.intersection(picked).count < picked.count / 2)
    }

    @Test func targetsCombineIdPatternFractionAndSource() {
        let t = FaultTarget(idPattern: "dev-1*", source: "127.0.0.2")
        #expect(t.matches(deviceID: "dev-17", peer: { "127.0.0.2" }))
        #expect(!t.matches(deviceID: "dev-17", peer: { "127.0.0.1" }))
        #expect(!t.matches(deviceID: "dev-27", peer: { "127.0.0.2" }))
        #expect(!t.matches(deviceID: nil, peer: { "127.0.0.2" }), "before CONNECT an id pattern cannot match")
        #expect(FaultTarget(source: "127.0.0.2").matches(deviceID: nil, peer: { "127.0.0.2" }))
        #expect(FaultTarget().matches(deviceID: nil, peer: { nil }))
    }

    @Test func planOrdersStepsAndExpandsFlaps() {
        let faults = [
            Scenario.Fault(at: .seconds(5), kind: .drop),
            Scenario.Fault(at: .seconds(5), kind: .outage, duration: .seconds(2)),
            Scenario.Fault(
                at: .seconds(1),
                kind: .flap,
                duration: .seconds(3),
                period: .seconds(1),
                down: .milliseconds(200)
            ),
        ]
        let plan = FaultPlan(faults)
        let steps = plan.events.map { "\($0.at.formatted) \($0.fault) \($0.step)" }
        #expect(
            steps == [
                "1s 2 start", "1s 2 pulse", "1.2s 2 release", "2s 2 pulse", "2.2s 2 release", "3s 2 pulse",
                "3.2s 2 release", "4s 2 end", "5s 1 start", "5s 0 pulse", "7s 1 end",
            ]
        )
        var log = FaultLog(plan: plan)
        for (i, e) in plan.events.enumerated() {
            log.applied(e, elapsed: e.at.nanoseconds + 1_000, affected: i == 1 ? 10 : 1)
        }
        let records = log.finished(runEnd: 60_000_000_000)
        #expect(records.map(\.label) == ["drop@5s", "outage@5s+2s", "flap@1s+3s"])
        #expect(records[0].startNanoseconds == 5_000_001_000 && records[0].endNanoseconds == 5_000_001_000)
        #expect(records[1].endNanoseconds == 7_000_001_000)
        #expect(records[2].affected == 17, "first pulse 10 + the seven other flap steps")
    }

    @Test func hubFaultAnswers() {
        var faults = HubFaults()
        let outage = Scenario.Fault(
            at: .zero,
            kind: .outage,
            duration: .seconds(1),
            target: FaultTarget(idPattern: "a*")
        )
        faults.start(outage, index: 0, now: .zero)
        #expect(faults.connectAnswer(deviceID: "a1", peer: { nil }) == .override(.serverUnavailable))
        #expect(faults.connectAnswer(deviceID: "b1", peer: { nil }) == nil)
        var reset = outage
        reset.refusal = .reset
        reset.target = FaultTarget()
        faults.start(reset, index: 1, now: .zero)
        #expect(faults.connectAnswer(deviceID: "b1", peer: { nil }) == .reset)
        #expect(faults.end(index: 0) == 1)
        #expect(faults.end(index: 1) == 1)
        #expect(faults.isEmpty)

        let throttle = Scenario.Fault(at: .zero, kind: .throttle, duration: .seconds(10), connectRate: 2)
        faults.start(throttle, index: 2, now: .zero)
        #expect(faults.throttle(connect: true, deviceID: "x", peer: { nil }, now: .zero) == .now)
        #expect(faults.throttle(connect: true, deviceID: "x", peer: { nil }, now: .zero) == .after(.milliseconds(500)))
        #expect(faults.throttle(connect: false, deviceID: "x", peer: { nil }, now: .zero) == nil, "sends not limited")
        #expect(faults.end(index: 2) == 1)

        let flap = Scenario.Fault(
            at: .zero,
            kind: .flap,
            duration: .seconds(10),
            period: .seconds(2),
            down: .seconds(1)
        )
        faults.start(flap, index: 3, now: .zero)
        #expect(faults.connectAnswer(deviceID: "x", peer: { nil }) == nil, "up between drops")
        faults.setDown(index: 3, true)
        #expect(faults.connectAnswer(deviceID: "x", peer: { nil }) == .override(.serverUnavailable))
        #expect(HubFaults.effect(of: .networkSwitch, step: .pulse) == .silence)
        #expect(HubFaults.effect(of: .disable, step: .start) == .close)
        #expect(HubFaults.effect(of: .expireTokens, step: .pulse) == .expire)
    }

    @Test func profileFaultKeysAreChecked() throws {
        func error(_ faults: String) -> ScenarioError? {
            do {
                _ = try ScenarioLoader().load(yaml: "faults:\n  - \(faults)\n", source: "p.yaml")
                return nil
            } catch { return error }
        }
        let ok = try ScenarioLoader().load(
            yaml: """
                seed: 3
                faults:
                  - {at: 1s, kind: flap, for: 10s, period: 2s, down: 500ms, fraction: 0.5}
                  - {at: 2s, kind: network-switch, source: 127.0.0.2}
                  - {at: 3s, kind: throttle, for: 5s, connect_rate: 10, devices: "dev-*"}
                  - {at: 4s, kind: outage, for: 5s, refuse: reset}
                """,
            source: "p.yaml"
        )
        #expect(ok.faults.map(\.kind) == [.flap, .networkSwitch, .throttle, .outage])
        #expect(ok.faults[0].target.fraction == 0.5 && ok.faults[0].down == .milliseconds(500))
        #expect(ok.faults[2].target.idPattern == "dev-*" && ok.faults[3].refusal == .reset)
        #expect(error("{at: 1s, kind: flap, for: 10s}")?.key == "faults[0].period")
        #expect(error("{at: 1s, kind: flap, for: 10s, period: 1s, down: 2s}")?.key == "faults[0].down")
        #expect(error("{at: 1s, kind: throttle, for: 10s}")?.key == "faults[0].connect_rate")
        #expect(error("{at: 1s, kind: drop, fraction: 1.5}")?.key == "faults[0].fraction")
        #expect(error("{at: 1s, kind: drop, for: 2s}")?.key == "faults[0].for")
        #expect(error("{at: 1s, kind: network-switch}")?.key == "faults[0].source")
        #expect(error("{at: 1s, kind: network-switch, source: nowhere}")?.key == "faults[0].source")
        #expect(error("{at: 1s, kind: drop, refuse: reset}")?.key == "faults[0].refuse")
        #expect(error("{at: 1s, kind: drop, colour: red}")?.key == "faults[0].colour")
        let proxied = try ScenarioLoader().load(
            yaml: "hub: {url: \"mqtt://127.0.0.1:1883\", fault_proxy: true}\nfaults: [{at: 1s, kind: drop}]\n",
            source: "p.yaml"
        )
        #expect(proxied.faultProxy && proxied.faults.count == 1)
        #expect(throws: ScenarioError.self) {
            try ScenarioLoader().load(
                yaml:
                    "hub: {url: \"mqtt://127.0.0.1:1883\", fault_proxy: true}\nfaults: [{at: 1s, kind: disable, for: 1s}]\n",
                source: "p.yaml"
            )
        }
    }
}
