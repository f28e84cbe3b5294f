import Testing

@testable import FleetCore

/// The in-flight window against a plain array of (packet id, message): appends that continue a run and appends that
/// start one (skipped ids, irregular times, an id wrap), acknowledgements in order, out of order and unknown,
/// appending one window to another, clearing.
@Suite("InflightWindow against an array")
struct InflightWindowTests {
    @Test("random operations match an array", arguments: [UInt64(3), 11, 2024, 90_001])
    func againstArray(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var window = InflightWindow()
        var model: [(id: UInt16, message: QueuedMessage)] = []
        var nextID: UInt16 = UInt16.random(in: 1...UInt16.max, using: &rng)
        var seq: UInt64 = 0
        var intended: Int64 = 0
        var step: Int64 = 1_000_000_000
        func same(_ a: [(id: UInt16, message: QueuedMessage)], _ b: [(id: UInt16, message: QueuedMessage)]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { $0.id == $1.id && $0.message == $1.message }
        }
        for _ in 0..<20_000 {
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<50:
                switch Int.random(in: 0..<12, using: &rng) {
                case 0: nextID &+= 3
                case 1: intended += 333
                case 2: step = Int64.random(in: 0...2_000_000_000, using: &rng)
                case 3: seq += 5
                default: break
                }
                if nextID == 0 { nextID = 1 }
                // Ids in flight are unique (the machine allocates only free ones).
                while model.contains(where: { $0.id == nextID }) { nextID = nextID == UInt16.max ? 1 : nextID + 1 }
                seq += 1
                intended += step
                let m = QueuedMessage(intended: Instant(nanoseconds: intended), seq: seq)
                window.append(id: nextID, message: m)
                model.append((nextID, m))
                nextID = nextID == UInt16.max ? 1 : nextID + 1
            case 50..<70:
                // In order: the oldest.
                let want = model.first
                let got = want.flatMap { window.remove(id: $0.id) }
                if want != nil { model.removeFirst() }
                #expect(got == want?.message)
            case 70..<90:
                // Out of order, or an id that is not in flight.
                let id =
                    Bool.random(using: &rng) && !model.isEmpty
                    ? model.randomElement(using: &rng)!.id : UInt16.random(in: 1...UInt16.max, using: &rng)
                let got = window.remove(id: id)
                let index = model.firstIndex { $0.id == id }
                #expect(got == index.map { model[$0].message })
                if let index { model.remove(at: index) }
            case 90..<96:
                let id = UInt16.random(in: 1...UInt16.max, using: &rng)
                #expect(window.contains(id: id) == model.contains { $0.id == id })
            case 96..<98:
                // A lost connection: everything moves to another window and comes back in id order.
                var other = InflightWindow()
                other.append(contentsOf: window)
                #expect(same(other.sortedByID(), model.sorted { $0.id < $1.id }))
            default:
                window.removeAll()
                model.removeAll()
            }
            #expect(window.count == model.count)
            #expect(window.isEmpty == model.isEmpty)
        }
        #expect(same(window.sortedByID(), model.sorted { $0.id < $1.id }))
    }

    @Test("a regular flush is one run: memory does not grow with the messages in flight")
    func regularIsOneRun() {
        var window = InflightWindow()
        for i in 0..<60 {
            window.append(
                id: UInt16(i + 1),
                message: QueuedMessage(intended: Instant(nanoseconds: Int64(i) * 1_000_000_000), seq: UInt64(i + 1))
            )
        }
        #expect(window.count == 60)
        #expect(window.runCount == 1)
        #expect(window.remove(id: 30)?.seq == 30)
        #expect(window.runCount == 2)
    }
}
