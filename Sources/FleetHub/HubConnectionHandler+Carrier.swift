internal import FleetHubCore
internal import FleetMQTT
internal import NIOCore

/// A device that is one session of an AMQP connection (`HubAMQPFront`): no pipeline of its own; its packets come from
/// the front and its answers go back to it.
extension HubConnectionHandler {
    /// Starts this device's session inside an AMQP connection (the front's `context`): as `handlerAdded` does.
    func attach(carrier: HubAMQPFront, channel: UInt16, context: ChannelHandlerContext) {
        self.carrier = carrier
        carrierChannel = channel
        handlerAdded(context: context)
    }

    /// The AMQP session ended (or its connection closed): as `handlerRemoved` does.
    func detachFromCarrier() {
        // Only the bookkeeping: this may run inside the handler's own `run` (its close ended the session), whose
        // actions must not be cleared under it.
        carrier = nil
        guard let context else { return }
        handlerRemoved(context: context)
    }

    /// Ends this device's connection as the hub's rules ask (after a refusal, silence, a slow reader): its own
    /// channel, or its session of an AMQP connection.
    func closeOwn() {
        if let carrier {
            carrier.endSession(carrierChannel)
        } else {
            context?.close(promise: nil)
        }
    }

    /// Writes one packet to the client: onto its own channel, or to the AMQP session that carries the device. False
    /// when it cannot be encoded (only a client can cause that; the caller closes).
    func send(_ packet: MQTTPacket, context: ChannelHandlerContext) -> Bool {
        if let carrier {
            if !isSilenced { carrier.carry(packet, channel: carrierChannel, dailyQuota: dailyQuotaRefused) }
            return true
        }
        guard let buffer = encode(packet, context: context) else { return false }
        write(buffer, context: context)
        return true
    }

    /// A packet from the AMQP front (this device's session of an AMQP connection).
    func received(_ packet: MQTTPacket) {
        if blackholed || context == nil { return }
        lastRead = state.sweepNow
        let now = state.instant()
        swap(&actions, &state.scratch)
        defer {
            actions.removeAll(keepingCapacity: true)
            swap(&actions, &state.scratch)
            state.answering = nil
        }
        _ = process(packet, now: now)
    }
}
