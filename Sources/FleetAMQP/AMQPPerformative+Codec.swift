public import NIOCore

extension AMQPPerformative {
    /// The performative as its described list (the transfer's payload is not part of it).
    public var value: AMQPValue {
        var w = AMQPFieldWriter()
        switch self {
        case .open(let o):
            w.add(string: o.containerID)
            w.add(string: o.hostname)
            w.add(uint: o.maxFrameSize)
            w.add(ushort: o.channelMax)
            w.add(uint: o.idleTimeOut)
            w.add(symbols: o.outgoingLocales)
            w.add(symbols: o.incomingLocales)
            w.add(symbols: o.offeredCapabilities)
            w.add(symbols: o.desiredCapabilities)
            w.add(map: o.properties)
            return w.described(0x10)
        case .begin(let b):
            w.add(ushort: b.remoteChannel)
            w.add(uint: b.nextOutgoingID)
            w.add(uint: b.incomingWindow)
            w.add(uint: b.outgoingWindow)
            w.add(uint: b.handleMax)
            w.add(symbols: b.offeredCapabilities)
            w.add(symbols: b.desiredCapabilities)
            w.add(map: b.properties)
            return w.described(0x11)
        case .attach(let a):
            w.add(string: a.name)
            w.add(uint: a.handle)
            w.add(bool: a.role.wire)
            w.add(ubyte: a.senderSettleMode)
            w.add(ubyte: a.receiverSettleMode)
            w.add(a.source?.value(code: AMQPTerminus.sourceCode))
            w.add(a.target?.value(code: AMQPTerminus.targetCode))
            w.add(map: a.unsettled)
            w.add(bool: a.incompleteUnsettled ? true : nil)
            w.add(uint: a.initialDeliveryCount)
            w.add(ulong: a.maxMessageSize)
            w.add(symbols: a.offeredCapabilities)
            w.add(symbols: a.desiredCapabilities)
            w.add(map: a.properties)
            return w.described(0x12)
        case .flow(let f):
            w.add(uint: f.nextIncomingID)
            w.add(uint: f.incomingWindow)
            w.add(uint: f.nextOutgoingID)
            w.add(uint: f.outgoingWindow)
            w.add(uint: f.handle)
            w.add(uint: f.deliveryCount)
            w.add(uint: f.linkCredit)
            w.add(uint: f.available)
            w.add(bool: f.drain ? true : nil)
            w.add(bool: f.echo ? true : nil)
            w.add(map: f.properties)
            return w.described(0x13)
        case .transfer(let t):
            w.add(uint: t.handle)
            w.add(uint: t.deliveryID)
            w.add(binary: t.deliveryTag)
            w.add(uint: t.messageFormat)
            w.add(bool: t.settled)
            w.add(bool: t.more ? true : nil)
            w.add(ubyte: t.receiverSettleMode)
            w.add(t.state?.value)
            w.add(bool: t.resume ? true : nil)
            w.add(bool: t.aborted ? true : nil)
            w.add(bool: t.batchable ? true : nil)
            return w.described(0x14)
        case .disposition(let d):
            w.add(bool: d.role.wire)
            w.add(uint: d.first)
            w.add(uint: d.last)
            w.add(bool: d.settled ? true : nil)
            w.add(d.state?.value)
            w.add(bool: d.batchable ? true : nil)
            return w.described(0x15)
        case .detach(let d):
            w.add(uint: d.handle)
            w.add(bool: d.closed ? true : nil)
            w.add(d.error?.value)
            return w.described(0x16)
        case .end(let error):
            w.add(error?.value)
            return w.described(0x17)
        case .close(let error):
            w.add(error?.value)
            return w.described(0x18)
        }
    }

    /// The frame body: the performative and, for a transfer, its payload. Transfers, dispositions and flows (one or
    /// two per message) are written field by field (`AMQPListWriter`); the rest through their values.
    func encodeBody(into buffer: inout ByteBuffer) throws(AMQPCodecError) {
        switch self {
        case .transfer(let t):
            var w = AMQPListWriter(descriptor: 0x14, into: &buffer)
            w.uint(t.handle, into: &buffer)
            w.uint(t.deliveryID, into: &buffer)
            try w.binary(t.deliveryTag, into: &buffer)
            w.uint(t.messageFormat, into: &buffer)
            w.bool(t.settled, into: &buffer)
            w.flag(t.more, into: &buffer)
            try w.value(t.receiverSettleMode.map { .ubyte($0) }, into: &buffer)
            try w.state(t.state, into: &buffer)
            w.flag(t.resume, into: &buffer)
            w.flag(t.aborted, into: &buffer)
            w.flag(t.batchable, into: &buffer)
            w.end(into: &buffer)
            var payload = t.payload
            buffer.writeBuffer(&payload)
        case .disposition(let d):
            var w = AMQPListWriter(descriptor: 0x15, into: &buffer)
            w.bool(d.role.wire, into: &buffer)
            w.uint(d.first, into: &buffer)
            w.uint(d.last, into: &buffer)
            w.flag(d.settled, into: &buffer)
            try w.state(d.state, into: &buffer)
            w.flag(d.batchable, into: &buffer)
            w.end(into: &buffer)
        case .flow(let f):
            var w = AMQPListWriter(descriptor: 0x13, into: &buffer)
            w.uint(f.nextIncomingID, into: &buffer)
            w.uint(f.incomingWindow, into: &buffer)
            w.uint(f.nextOutgoingID, into: &buffer)
            w.uint(f.outgoingWindow, into: &buffer)
            w.uint(f.handle, into: &buffer)
            w.uint(f.deliveryCount, into: &buffer)
            w.uint(f.linkCredit, into: &buffer)
            w.uint(f.available, into: &buffer)
            w.flag(f.drain, into: &buffer)
            w.flag(f.echo, into: &buffer)
            try w.value(f.properties.map { .map($0) }, into: &buffer)
            w.end(into: &buffer)
        default:
            try value.encode(into: &buffer)
        }
    }

    private static let names: [String: UInt64] = [
        "amqp:open:list": 0x10, "amqp:begin:list": 0x11, "amqp:attach:list": 0x12, "amqp:flow:list": 0x13,
        "amqp:transfer:list": 0x14, "amqp:disposition:list": 0x15, "amqp:detach:list": 0x16, "amqp:end:list": 0x17,
        "amqp:close:list": 0x18,
    ]

    /// Reads a performative from a frame body: the described list, then (for a transfer only) the payload.
    public static func decode(body: inout ByteBuffer) throws(AMQPCodecError) -> AMQPPerformative {
        let value = try AMQPValue.decode(from: &body)
        guard case .described(let descriptor, let inner) = value, case .list(let fields) = inner else {
            throw AMQPCodecError(.notDescribed, detail: value.typeName)
        }
        let code = try descriptor.code(in: names, unknown: .unknownPerformative)
        let performative = try decode(code: code, fields: fields, body: &body)
        if case .transfer = performative {
            return performative
        }
        guard body.readableBytes == 0 else {
            throw AMQPCodecError(.trailingBytes, context: performative.name, detail: "\(body.readableBytes) bytes")
        }
        return performative
    }

    private static func decode(
        code: UInt64,
        fields: [AMQPValue],
        body: inout ByteBuffer
    )
        throws(AMQPCodecError) -> AMQPPerformative
    {
        switch code {
        case 0x10:
            let r = AMQPFieldReader(fields, composite: "open")
            var o = Open(containerID: try r.required(0, "container-id", r.string))
            o.hostname = try r.string(1, "hostname")
            o.maxFrameSize = try r.uint(2, "max-frame-size")
            o.channelMax = try r.ushort(3, "channel-max")
            o.idleTimeOut = try r.uint(4, "idle-time-out")
            o.outgoingLocales = try r.symbols(5, "outgoing-locales")
            o.incomingLocales = try r.symbols(6, "incoming-locales")
            o.offeredCapabilities = try r.symbols(7, "offered-capabilities")
            o.desiredCapabilities = try r.symbols(8, "desired-capabilities")
            o.properties = try r.map(9, "properties")
            return .open(o)
        case 0x11:
            let r = AMQPFieldReader(fields, composite: "begin")
            var b = Begin(
                remoteChannel: try r.ushort(0, "remote-channel"),
                nextOutgoingID: try r.required(1, "next-outgoing-id", r.uint),
                incomingWindow: try r.required(2, "incoming-window", r.uint),
                outgoingWindow: try r.required(3, "outgoing-window", r.uint),
                handleMax: try r.uint(4, "handle-max")
            )
            b.offeredCapabilities = try r.symbols(5, "offered-capabilities")
            b.desiredCapabilities = try r.symbols(6, "desired-capabilities")
            b.properties = try r.map(7, "properties")
            return .begin(b)
        case 0x12:
            let r = AMQPFieldReader(fields, composite: "attach")
            var a = Attach(
                name: try r.required(0, "name", r.string),
                handle: try r.required(1, "handle", r.uint),
                role: Role(wire: try r.required(2, "role", r.bool)),
                senderSettleMode: try r.ubyte(3, "snd-settle-mode"),
                receiverSettleMode: try r.ubyte(4, "rcv-settle-mode"),
                source: try AMQPTerminus.read(r, 5, "source", code: 0x28, symbolic: "amqp:source:list"),
                target: try AMQPTerminus.read(r, 6, "target", code: 0x29, symbolic: "amqp:target:list"),
                initialDeliveryCount: try r.uint(9, "initial-delivery-count")
            )
            a.unsettled = try r.map(7, "unsettled")
            a.incompleteUnsettled = try r.bool(8, "incomplete-unsettled") ?? false
            a.maxMessageSize = try r.ulong(10, "max-message-size")
            a.offeredCapabilities = try r.symbols(11, "offered-capabilities")
            a.desiredCapabilities = try r.symbols(12, "desired-capabilities")
            a.properties = try r.map(13, "properties")
            return .attach(a)
        case 0x13:
            let r = AMQPFieldReader(fields, composite: "flow")
            var f = Flow(
                nextIncomingID: try r.uint(0, "next-incoming-id"),
                incomingWindow: try r.required(1, "incoming-window", r.uint),
                nextOutgoingID: try r.required(2, "next-outgoing-id", r.uint),
                outgoingWindow: try r.required(3, "outgoing-window", r.uint),
                handle: try r.uint(4, "handle"),
                deliveryCount: try r.uint(5, "delivery-count"),
                linkCredit: try r.uint(6, "link-credit")
            )
            f.available = try r.uint(7, "available")
            f.drain = try r.bool(8, "drain") ?? false
            f.echo = try r.bool(9, "echo") ?? false
            f.properties = try r.map(10, "properties")
            return .flow(f)
        case 0x14:
            let r = AMQPFieldReader(fields, composite: "transfer")
            var t = Transfer(
                handle: try r.required(0, "handle", r.uint),
                deliveryID: try r.uint(1, "delivery-id"),
                deliveryTag: try r.binary(2, "delivery-tag"),
                messageFormat: try r.uint(3, "message-format"),
                settled: try r.bool(4, "settled"),
                payload: body.readSlice(length: body.readableBytes) ?? ByteBuffer()
            )
            t.more = try r.bool(5, "more") ?? false
            t.receiverSettleMode = try r.ubyte(6, "rcv-settle-mode")
            t.state = try AMQPDeliveryState.read(r, 7)
            t.resume = try r.bool(8, "resume") ?? false
            t.aborted = try r.bool(9, "aborted") ?? false
            t.batchable = try r.bool(10, "batchable") ?? false
            return .transfer(t)
        case 0x15:
            let r = AMQPFieldReader(fields, composite: "disposition")
            var d = Disposition(
                role: Role(wire: try r.required(0, "role", r.bool)),
                first: try r.required(1, "first", r.uint),
                last: try r.uint(2, "last"),
                settled: try r.bool(3, "settled") ?? false,
                state: try AMQPDeliveryState.read(r, 4)
            )
            d.batchable = try r.bool(5, "batchable") ?? false
            return .disposition(d)
        case 0x16:
            let r = AMQPFieldReader(fields, composite: "detach")
            return .detach(
                Detach(
                    handle: try r.required(0, "handle", r.uint),
                    closed: try r.bool(1, "closed") ?? false,
                    error: try AMQPError.read(r, 2)
                )
            )
        case 0x17:
            return .end(try AMQPError.read(AMQPFieldReader(fields, composite: "end"), 0))
        case 0x18:
            return .close(try AMQPError.read(AMQPFieldReader(fields, composite: "close"), 0))
        default:
            throw AMQPCodecError(.unknownPerformative, detail: "0x" + String(code, radix: 16))
        }
    }
}
