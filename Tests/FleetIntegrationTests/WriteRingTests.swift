import FleetCore
import FleetMetrics
import NIOCore
import NIOEmbedded
import Testing

@testable import FleetEngine

/// The swarm's ring of outgoing packet buffers (`Swarm.writeBuffer`) against a model: every buffer handed out and
/// still held elsewhere (as NIO holds one until it is written) keeps the bytes written into it, whatever the ring
/// hands out later; a buffer nobody else holds is used again without a new allocation.
@Suite("Swarm write-buffer ring")
struct WriteRingTests {
    static func address(_ buffer: ByteBuffer) -> UInt {
        buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func heldBuffersKeepTheirBytes(seed: UInt64) throws {
        // A swarm of one device on an embedded loop (the handler tests' rig), ended when done.
        let rig = try DeviceHandlerEdgeTests.Rig()
        defer { rig.end() }
        let swarm = rig.swarm
        var random = SplitMix64(seed: seed)
        // The model: buffers held "by NIO", each with the bytes written into it.
        var held: [(buffer: ByteBuffer, bytes: [UInt8])] = []
        var reused = 0
        for step in 0..<5_000 {
            // Sparse and dense: long stretches hold nothing, others hold many at once.
            let holding = (step / 500) % 2 == 1
            let length = Int(random.next() % 300) + 1
            let large = random.next() % 50 == 0
            var buffer = swarm.writeBuffer(capacity: large ? Swarm.ringBufferLimit * 2 : 128 + length)
            #expect(buffer.readableBytes == 0 && buffer.writerIndex == 0)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            buffer.writeBytes(bytes)
            swarm.keepWriteBuffer(buffer)
            if holding && random.next() % 3 == 0 { held.append((buffer, bytes)) }
            if !held.isEmpty && random.next() % 4 == 0 { held.remove(at: Int(random.next() % UInt64(held.count))) }
            // Checked now and then (held buffers pile up in the dense stretches; every step would be slow in debug).
            for h in held where step % 25 == 0 || step == 4_999 {
                #expect(
                    h.buffer.readableBytesView.elementsEqual(h.bytes),
                    "step \(step): a held buffer was overwritten"
                )
            }
            // A full turn of the ring later, a slot nobody holds gives back the same storage.
            if !holding && step % 500 > Swarm.ringSize && step % 10 == 0 && !large {
                let before = Self.address(buffer)
                buffer = ByteBuffer()  // this copy let go of, as the handler's goes out of scope
                for _ in 0..<(Swarm.ringSize - 1) {
                    var other = swarm.writeBuffer(capacity: 64)
                    other.writeInteger(UInt8(1))
                    swarm.keepWriteBuffer(other)
                }
                let again = swarm.writeBuffer(capacity: 64)
                if Self.address(again) == before { reused += 1 }
                swarm.keepWriteBuffer(again)
            }
        }
        #expect(reused > 150, "storage reused \(reused) times")
    }

    @Test func aBufferLargerThanTheLimitIsNotKept() throws {
        // A swarm of one device on an embedded loop (the handler tests' rig), ended when done.
        let rig = try DeviceHandlerEdgeTests.Rig()
        defer { rig.end() }
        let swarm = rig.swarm
        var big = swarm.writeBuffer(capacity: Swarm.ringBufferLimit + 1)
        big.writeBytes([UInt8](repeating: 7, count: 10))
        swarm.keepWriteBuffer(big)
        for _ in 0..<(Swarm.ringSize - 1) { swarm.keepWriteBuffer(swarm.writeBuffer(capacity: 64)) }
        let next = swarm.writeBuffer(capacity: 64)
        #expect(next.capacity < Swarm.ringBufferLimit, "the large buffer's storage came back: \(next.capacity)")
    }
}
