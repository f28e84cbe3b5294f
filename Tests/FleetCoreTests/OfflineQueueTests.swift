import Testing

@testable import FleetCore

/// The offline queue against a plain array: random appends, pops and clears, including long runs of appends
/// (growth while the ring has wrapped) and draining to empty. Messages come evenly spaced (one run), with gaps in
/// time or in ids (a new run), so runs are extended, split and drained in every order.
@Suite("OfflineQueue against an array")
struct OfflineQueueTests {
    @Test("random operations match an array", arguments: [UInt64(1), 5, 77, 4242])
    func againstArray(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var queue = OfflineQueue()
        var model: [QueuedMessage] = []
        var seq: UInt64 = 0
        var intended: Int64 = 0
        var step: Int64 = 1_000
        var growths = 0
        for _ in 0..<20_000 {
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<55:
                // Bursts of appends make the ring wrap and then grow.
                for _ in 0..<Int.random(in: 1...5, using: &rng) {
                    // Mostly periodic; sometimes a skipped id, a late message, or a new period.
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0: seq += 2
                    case 1: intended += 777
                    case 2: step = Int64.random(in: 0...5_000, using: &rng)
                    default: break
                    }
                    seq += 1
                    intended += step
                    let m = QueuedMessage(intended: Instant(nanoseconds: intended), seq: seq)
                    let before = queue.capacity
                    queue.append(m)
                    model.append(m)
                    if queue.capacity != before {
                        growths += 1
                        #expect(queue.capacity >= 2 * before, "growth must be geometric: \(before) → \(queue.capacity)")
                    }
                }
            case 55..<98:
                let got = queue.popFirst()
                let want = model.isEmpty ? nil : model.removeFirst()
                #expect(got == want)
            default:
                queue.removeAll()
                model.removeAll()
            }
            #expect(queue.count == model.count)
            #expect(queue.isEmpty == model.isEmpty)
        }
        while let m = queue.popFirst() { #expect(m == model.removeFirst()) }
        #expect(model.isEmpty)
        #expect(growths >= 3)
    }
}
