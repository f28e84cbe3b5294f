import FleetCore
import Testing

@testable import FleetSim

/// FleetSim's wire queue against an array: seeded random pushes and pops, bursts that make the ring grow while its
/// front has wrapped past the end of the storage, and drains to empty.
@Suite("RingQueue")
struct RingQueueTests {
    @Test("matches an array", arguments: [UInt64(1), 7, 99, 2024])
    func againstArray(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var queue = RingQueue(filler: -1, capacity: 4)
        var model: [Int] = []
        var next = 0
        for _ in 0..<20_000 {
            switch rng.next() % 10 {
            case 0..<5:
                // Bursts of up to 40 pushes: the ring grows from 4 slots, often while wrapped.
                for _ in 0..<Int(rng.next() % 40) {
                    queue.push(next)
                    model.append(next)
                    next += 1
                }
            case 5..<9:
                for _ in 0..<Int(rng.next() % 40) {
                    let popped = queue.popFirst()
                    let expected = model.isEmpty ? nil : model.removeFirst()
                    #expect(popped == expected)
                }
            default:
                while let v = queue.popFirst() { #expect(v == model.removeFirst()) }
                #expect(model.isEmpty)
            }
            #expect(queue.count == model.count)
            #expect(queue.first == model.first)
            #expect(queue.isEmpty == model.isEmpty)
        }
    }

    @Test func popOnEmptyIsNil() {
        var queue = RingQueue(filler: 0)
        #expect(queue.popFirst() == nil)
        queue.push(5)
        #expect(queue.popFirst() == 5)
        #expect(queue.popFirst() == nil)
        #expect(queue.first == nil)
    }
}
