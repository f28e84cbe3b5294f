internal import COpenSSL
internal import NIOCore

/// The bytes between OpenSSL and the channel: ciphertext that arrived and is not yet read by OpenSSL, and
/// ciphertext OpenSSL wrote and the handler has not yet passed on. Both are NIO buffers held only while they carry
/// bytes (nil otherwise), so an idle connection keeps none. OpenSSL reaches it through a BIO of our own kind.
final class TLSWire {
    var inbound: ByteBuffer?
    var outbound: ByteBuffer?
    let allocator: ByteBufferAllocator

    init(allocator: ByteBufferAllocator) { self.allocator = allocator }

    func received(_ bytes: ByteBuffer) {
        if inbound == nil {
            inbound = bytes
        } else {
            var more = bytes
            inbound?.writeBuffer(&more)
        }
    }

    /// Ciphertext the handler writes itself (its own record layer): `body` appends to what waits to go out; a buffer
    /// is made only when none waits, and none is kept if it stays empty.
    func writeOutbound<T, E: Error>(
        reserving capacity: Int,
        _ body: (inout ByteBuffer) throws(E) -> T
    ) throws(E) -> T {
        var out = outbound ?? allocator.buffer(capacity: capacity)
        defer { outbound = out.readableBytes > 0 ? out : nil }
        return try body(&out)
    }

    /// Ciphertext OpenSSL wrote, handed over once (nil when there is none).
    func takeOutbound() -> ByteBuffer? {
        defer { outbound = nil }
        return outbound
    }

    /// OpenSSL writes: always takes every byte.
    fileprivate func write(_ bytes: UnsafeRawBufferPointer) {
        if outbound == nil { outbound = allocator.buffer(capacity: max(bytes.count, 512)) }
        outbound?.writeBytes(bytes)
    }

    /// OpenSSL reads: what arrived, up to `into.count` bytes (0: nothing yet).
    fileprivate func read(into out: UnsafeMutableRawBufferPointer) -> Int {
        guard let available = inbound?.readableBytes, available > 0 else { return 0 }
        let n = min(available, out.count)
        inbound?.readWithUnsafeReadableBytes { bytes in
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(n)))
            return n
        }
        if inbound?.readableBytes == 0 { inbound = nil }
        return n
    }

    /// A new BIO of our kind that reads and writes through `wire` (held unretained: the handler owns both).
    static func makeBIO(for wire: TLSWire) -> OpaquePointer? {
        guard let method = Self.method, let bio = BIO_new(method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(wire).toOpaque())
        BIO_set_init(bio, 1)
        return bio
    }

    private static func wire(of bio: OpaquePointer?) -> TLSWire? {
        guard let bio, let data = BIO_get_data(bio) else { return nil }
        return Unmanaged<TLSWire>.fromOpaque(data).takeUnretainedValue()
    }

    /// The BIO method, made once per process.
    nonisolated(unsafe) private static let method: OpaquePointer? = {
        guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fleetstorm-wire") else {
            return nil
        }
        _ = BIO_meth_set_write(method) { bio, data, length in
            guard let wire = TLSWire.wire(of: bio), let data, length > 0 else { return 0 }
            wire.write(UnsafeRawBufferPointer(start: data, count: Int(length)))
            return length
        }
        _ = BIO_meth_set_read(method) { bio, data, length in
            guard let bio, let wire = TLSWire.wire(of: bio), let data, length > 0 else { return 0 }
            fleet_BIO_clear_retry_flags(bio)
            let n = wire.read(into: UnsafeMutableRawBufferPointer(start: data, count: Int(length)))
            guard n > 0 else {
                fleet_BIO_set_retry_read(bio)
                return -1
            }
            return Int32(clamping: n)
        }
        _ = BIO_meth_set_ctrl(method) { _, command, _, _ in
            // Flush: the handler passes written bytes on itself. Nothing else is supported.
            command == BIO_CTRL_FLUSH ? 1 : 0
        }
        _ = BIO_meth_set_create(method) { _ in 1 }
        _ = BIO_meth_set_destroy(method) { bio in
            BIO_set_data(bio, nil)
            return 1
        }
        return method
    }()
}
