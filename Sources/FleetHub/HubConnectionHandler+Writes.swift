internal import FleetHubCore
internal import FleetMQTT
internal import NIOCore

/// Writing to a client: encoding, the slow-reader bound, and C2D delivery.
extension HubConnectionHandler {
    /// The packet's bytes, or nil when it cannot be encoded: only a client can make that happen (e.g. a twin request
    /// whose `$rid` makes the answer's topic longer than MQTT allows); the caller closes that client's connection.
    func encode(_ packet: MQTTPacket, context: ChannelHandlerContext) -> ByteBuffer? {
        var buffer = context.channel.allocator.buffer(capacity: 16)
        do {
            try encoder.encode(packet, into: &buffer)
        } catch {
            return nil
        }
        return buffer
    }

    /// Writes unless the client stopped reading: past the high-water mark the backlog is bounded, then the
    /// connection is closed as a slow consumer.
    func write(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard !isSilenced else { return }
        if !context.channel.isWritable {
            backlog += buffer.readableBytes
            if backlog > configuration.maxBacklogBytes {
                closeSlowConsumer()
                return
            }
        }
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            backlog = 0
            slowConsumerTimer?.cancel()
            slowConsumerTimer = nil
        } else if slowConsumerTimer == nil {
            slowConsumerTimer = context.eventLoop.assumeIsolated().scheduleTask(
                in: Self.amount(configuration.slowConsumerTimeout)
            ) { [self] in
                self.slowConsumerTimer = nil
                if self.context?.channel.isWritable == false { self.closeSlowConsumer() }
            }
        }
    }

    func closeSlowConsumer() {
        guard context != nil, !session.isClosed else { return }
        state.core.recorder.countSlowConsumer()
        session.protocolError(into: &actions)
        actions.removeAll()
        closeOwn()
    }

    /// Sends the device's queued C2D messages that are not in flight yet (QoS 1, property bag with `$.mid`).
    func deliverCloudToDevice() {
        guard let context, let deviceID, cloudToDeviceSubscribed, !isSilenced, !session.isClosed else { return }
        let pending = state.cloudToDevice.pending(deviceID: deviceID, inFlight: Set(cloudToDeviceInFlight.values))
        guard !pending.isEmpty else { return }
        for messageID in pending {
            nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1
            cloudToDeviceInFlight[nextPacketID] = messageID
            let publish = MQTTPublish(
                topic: HubTopics.cloudToDevice(deviceID: deviceID, messageID: messageID),
                payload: ByteBuffer(string: "c2d \(messageID)"),
                qos: .atLeastOnce,
                packetID: nextPacketID
            )
            guard send(.publish(publish), context: context) else { return closeOwn() }
        }
        context.flush()
        state.core.recorder.countCloudToDevice(sent: pending.count, at: state.instant())
    }
}
