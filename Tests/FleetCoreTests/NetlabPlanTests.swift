import Testing

@testable import FleetCore

/// netlab's plan and its state machine over network fault steps: which kernel commands each step issues, against
/// a model of the links kept here (down set, resetting set, active uplink), over seeded random step orders.
@Suite("netlab plan")
struct NetlabPlanTests {
    let plan = NetlabPlan(owner: 4242)

    @Test func namesCarryThePrefixAndTheOwner() {
        #expect(plan.hubNamespace == "fsnl-4242-hub" && plan.fleetNamespace == "fsnl-4242-dev")
        #expect(NetlabPlan.owner(ofNamespace: "fsnl-4242-dev") == 4242)
        for other in ["fsnl-x-dev", "fsnl-12-web", "ns1", "fsnl-", "fsnl-12"] {
            #expect(NetlabPlan.owner(ofNamespace: other) == nil, "\(other)")
        }
        // Everything lives in the two namespaces: no command creates anything in the caller's namespace.
        for c in plan.setup where c.starts(with: ["ip", "link"]) || c.starts(with: ["ip", "addr"]) {
            Issue.record("a command outside the namespaces: \(c)")
        }
        #expect(plan.teardown == [["ip", "netns", "del", "fsnl-4242-dev"], ["ip", "netns", "del", "fsnl-4242-hub"]])
    }

    func fault(_ kind: Scenario.Fault.Kind, uplink: Int = 0) -> Scenario.Fault {
        var f = Scenario.Fault(at: .zero, kind: kind)
        f.uplink = uplink
        return f
    }

    @Test func switchUplinkMovesTheRouteAndRemovesTheOldAddress() {
        var state = NetlabState()
        var chosen: Int?
        let first = state.commands(for: fault(.switchUplink), step: .pulse, plan: plan, chosen: &chosen)
        #expect(first.contains(plan.route(to: 2)))
        #expect(first.contains(["ip", "-n", "fsnl-4242-dev", "addr", "del", "10.200.1.2/24", "dev", "up1"]))
        #expect(state.active == 2)
        var again: Int?
        #expect(state.commands(for: fault(.switchUplink, uplink: 2), step: .pulse, plan: plan, chosen: &again).isEmpty)
        var back: Int?
        #expect(
            state.commands(for: fault(.switchUplink), step: .pulse, plan: plan, chosen: &back).contains(
                plan.route(to: 1)
            )
        )
    }

    /// Random steps of link-down, link-up, link-flap and link-reset on random uplinks: the commands issued always
    /// match what a simple model of the two links expects, and a link is never added to a set twice.
    @Test func randomStepOrdersMatchAModel() {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<200 {
            var state = NetlabState()
            var modelDown: Set<Int> = []
            var modelReset: Set<Int> = []
            for _ in 0..<30 {
                let k = 1 + Int(rng.next() % 2)
                let choices: [(Scenario.Fault.Kind, FaultPlan.Step)] = [
                    (.linkDown, .start), (.linkDown, .end), (.linkUp, .pulse), (.linkFlap, .pulse),
                    (.linkFlap, .release), (.linkFlap, .end), (.linkReset, .start), (.linkReset, .end),
                    (.linkFlap, .start),
                ]
                let (kind, step) = choices[Int(rng.next() % UInt64(choices.count))]
                var chosen: Int?
                let commands = state.commands(for: fault(kind, uplink: k), step: step, plan: plan, chosen: &chosen)
                #expect(chosen == k)
                var expected: [[String]] = []
                switch (kind, step) {
                case (.linkDown, .start), (.linkFlap, .pulse):
                    if modelDown.insert(k).inserted { expected = plan.link(k, down: true) }
                case (.linkDown, .end), (.linkUp, .pulse), (.linkFlap, .release), (.linkFlap, .end):
                    if modelDown.remove(k) != nil { expected = plan.link(k, down: false) }
                case (.linkReset, .start):
                    if modelReset.insert(k).inserted { expected = plan.reset(k, on: true) }
                case (.linkReset, .end):
                    if modelReset.remove(k) != nil { expected = plan.reset(k, on: false) }
                default: break
                }
                #expect(commands == expected, "\(kind) \(step) on \(k)")
                #expect(state.down == modelDown && state.resetting == modelReset)
            }
        }
    }

    @Test func networkFaultsParseAndRefuseWhatTheyCannotDo() throws {
        let yaml = """
            faults:
              - {at: 5s, kind: link-down, for: 10s, uplink: 2}
              - {at: 20s, kind: switch-uplink}
              - {at: 30s, kind: link-flap, for: 10s, period: 2s, down: 1s}
              - {at: 45s, kind: link-reset, for: 3s}
            """
        let s = try ScenarioLoader().load(yaml: yaml, source: "p.yaml")
        #expect(s.faults.map(\.kind) == [.linkDown, .switchUplink, .linkFlap, .linkReset])
        #expect(s.faults[0].uplink == 2 && s.needsNetlab?.contains("fleetstorm netlab run") == true)
        let bad: [(String, String)] = [
            ("{at: 1s, kind: link-down, for: 2s, fraction: 0.5}", "whole uplink"),
            ("{at: 1s, kind: drop, uplink: 1}", "only network faults"),
            ("{at: 1s, kind: link-down, for: 2s, uplink: 3}", "uplink"),
            ("{at: 1s, kind: switch-uplink, for: 2s}", "remove for"),
            ("{at: 1s, kind: link-flap, for: 5s}", "period"),
        ]
        for (item, words) in bad {
            do {
                _ = try ScenarioLoader().load(yaml: "faults: [\(item)]", source: "p.yaml")
                Issue.record("\(item) loaded")
            } catch { #expect(error.description.contains(words), "\(item): \(error)") }
        }
    }

    @Test func linkKeysParse() throws {
        let s = try ScenarioLoader().load(
            yaml: "link: {rtt: 300ms, jitter: 50ms, loss: 0.02, rate: 64kbit}",
            source: "p.yaml"
        )
        #expect(s.link?.rtt == .milliseconds(300) && s.link?.bitsPerSecond == 64_000 && s.link?.loss == 0.02)
        #expect(Scenario.Link.parseRate("2mbit") == 2_000_000 && Scenario.Link.parseRate("9600bps") == 9600)
        for bad in ["link: {rate: fast}", "link: {loss: 0.7}", "link: {rtt: -1s}", "link: {rtt: 1s, colour: red}"] {
            do {
                _ = try ScenarioLoader().load(yaml: bad, source: "p.yaml")
                Issue.record("\(bad) loaded")
            } catch { #expect(error.description.contains("link."), "\(bad): \(error)") }
        }
        #expect(
            try ScenarioLoader().load(yaml: "link: {rtt: 0s}", source: "p.yaml").link == nil,
            "an ideal link is none"
        )
    }
}
