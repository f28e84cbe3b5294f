public import NIOCore

/// Writes one device's telemetry: the topic with its message id, and the body (its kind's template expanded, or
/// filler). Holds only what that needs (the id, the cohort's shared settings, the payload seed), so an interpreter
/// takes one per message instead of copying the whole device machine.
public struct MessageWriter: Sendable {
    public let deviceID: String
    public let shared: SharedDeviceConfig
    public let payloadSeed: UInt64

    /// The telemetry topic with the message id, written straight into `buffer` without building a string.
    public func writeTopic(seq: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("devices/")
        buffer.writeString(deviceID)
        buffer.writeStaticString("/messages/events/%24.mid=")
        PayloadTemplate.writeDigits(seq, minimum: 1, into: &buffer)
        if !shared.propertyBag.isEmpty {
            buffer.writeStaticString("&")
            buffer.writeString(shared.propertyBag)
        }
    }

    /// Which kind of the cohort's mix message `seq` is (0 without a mix): drawn from the device's payload seed and
    /// the message id alone, so a message keeps its kind (and QoS and body) when it is re-sent.
    public func kind(of seq: UInt64) -> Int { shared.kind(of: seq, seed: payloadSeed) }

    /// Bytes to reserve for `message`'s body.
    public func bodyCapacity(for message: TelemetryPublish) -> Int {
        shared.kinds.isEmpty ? shared.bodyCapacity : shared.kinds[kind(of: message.seq)].bodyCapacity
    }

    /// Writes `message`'s body into `buffer`: its kind's (or the cohort's) template expanded for it, or filler. The
    /// same message always gets the same bytes (a re-sent one included).
    public func writeBody(for message: TelemetryPublish, into buffer: inout ByteBuffer) {
        var template = shared.template
        if !shared.kinds.isEmpty {
            let kind = shared.kinds[kind(of: message.seq)]
            guard let own = kind.template else {
                buffer.writeImmutableBuffer(kind.payload)
                return
            }
            template = own
        }
        guard let template else {
            buffer.writeImmutableBuffer(shared.payload)
            return
        }
        template.render(
            PayloadTemplate.Message(
                deviceID: deviceID,
                seq: message.seq,
                unixMillis: shared.unixMillisAtZero &+ message.intended.nanoseconds / 1_000_000,
                seed: payloadSeed
            ),
            into: &buffer
        )
    }

    /// `message`'s body as a buffer of its own (a filler is shared, not copied).
    public func body(for message: TelemetryPublish) -> ByteBuffer {
        if shared.kinds.isEmpty && shared.template == nil { return shared.payload }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(bodyCapacity(for: message))
        writeBody(for: message, into: &buffer)
        return buffer
    }
}
