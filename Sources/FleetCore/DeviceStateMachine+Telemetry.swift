public import FleetMQTT
public import NIOCore

/// Telemetry: the message grid, the closed loop, acknowledgements, and the telemetry topic written in place.
extension DeviceStateMachine {
    /// The telemetry topic with the message id (`%24.mid`) ahead of the scenario's property bag.
    func topic(for seq: UInt64) -> String {
        config.propertyBag.isEmpty ? "\(topic)%24.mid=\(seq)" : "\(topic)%24.mid=\(seq)&\(config.propertyBag)"
    }

    /// What writing a message needs from this device, apart from the machine: an interpreter takes it once per
    /// message instead of copying the whole machine for each call.
    public var writer: MessageWriter { MessageWriter(deviceID: deviceID, shared: shared, payloadSeed: payloadSeed) }

    /// The telemetry topic written straight into `buffer`, without building a string (the per-message hot path).
    public func writeTopic(seq: UInt64, into buffer: inout ByteBuffer) { writer.writeTopic(seq: seq, into: &buffer) }

    /// Which kind of the cohort's mix message `seq` is (0 without a mix).
    public func kind(of seq: UInt64) -> Int { shared.kind(of: seq, seed: payloadSeed) }

    /// Message `seq`'s QoS: its kind's, or the cohort's.
    func qos(of seq: UInt64) -> MQTTQoS { kindAndQoS(of: seq).0 }

    /// Bytes to reserve for `message`'s body.
    public func bodyCapacity(for message: TelemetryPublish) -> Int { writer.bodyCapacity(for: message) }

    /// Writes `message`'s body into `buffer` (see `MessageWriter.writeBody`).
    public func writeBody(for message: TelemetryPublish, into buffer: inout ByteBuffer) {
        writer.writeBody(for: message, into: &buffer)
    }

    /// `message`'s body as a buffer of its own (a filler is shared, not copied).
    public func body(for message: TelemetryPublish) -> ByteBuffer { writer.body(for: message) }

    /// The packet a telemetry action stands for (builds the topic string: for tests and in-memory wiring).
    public func packet(for message: TelemetryPublish) -> MQTTPacket {
        .publish(
            MQTTPublish(
                topic: topic(for: message.seq),
                payload: body(for: message),
                qos: message.packetID == nil ? .atMostOnce : .atLeastOnce,
                dup: message.dup,
                packetID: message.packetID
            )
        )
    }

    /// Closed loop: generate and send messages while the in-flight window has room. A message's intended send time
    /// is the moment it could go (now), so its latency is the hub's answer time, not a schedule's.
    mutating func fillWindow(now: Instant, into actions: inout Actions) {
        guard case .connected = state, generated < config.messages else { return }
        while generated < config.messages && session.inflight.count < config.maxInflight {
            generated += 1
            let message = nextMessage(intended: now)
            let (qos, kind) = kindAndQoS(of: message.seq)
            actions.append(.record(.generated(qos: qos, kind: kind)))
            Self.publish(message, qos: qos, session: &session, into: &actions)
        }
        session.lastWrite = now
    }

    mutating func telemetryDue(deadline: Instant, now: Instant, into actions: inout Actions) {
        guard generated < config.messages else { return }
        if shared.closedLoop {
            fillWindow(now: now, into: &actions)
            return
        }
        switch state {
        case .done, .idle: return
        default: break
        }
        let next = deadline + config.interval
        nextIntended = next
        defer {
            if generated < config.messages {
                actions.append(.schedule(.telemetry, next))
            } else {
                disconnectIfDone(now: now, into: &actions)
            }
        }
        // The next message's kind and QoS (its id is the next one whether it goes, queues or is dropped).
        let (qos, kind) = kindAndQoS(of: lastSeq &+ 1)
        if case .connected = state, queue.isEmpty {
            if session.inflight.count < config.maxInflight || qos == .atMostOnce {
                generated += 1
                actions.append(.record(.generated(qos: qos, kind: kind)))
                let message = nextMessage(intended: deadline)
                Self.publish(message, qos: qos, session: &session, into: &actions)
                session.lastWrite = now
                return
            }
        }
        // Cannot send now: queue it, or apply the overflow policy.
        if queue.count >= config.queueCapacity {
            switch config.queueOverflow {
            case .blockGeneration:
                return
            case .dropNewest:
                generated += 1
                actions.append(.record(.generated(qos: qos, kind: kind)))
                actions.append(.record(.failed(count: 1, reason: .queueOverflow)))
                return
            case .dropOldest:
                if queue.popFirst() != nil {
                    actions.append(.record(.failed(count: 1, reason: .queueOverflow)))
                } else {
                    generated += 1
                    actions.append(.record(.generated(qos: qos, kind: kind)))
                    actions.append(.record(.failed(count: 1, reason: .queueOverflow)))
                    return
                }
            }
        }
        generated += 1
        actions.append(.record(.generated(qos: qos, kind: kind)))
        queue.append(nextMessage(intended: deadline))
    }

    mutating func pubackReceived(_ ack: MQTTAck, now: Instant, into actions: inout Actions) {
        session.lastRead = now
        if let message = session.inflight.remove(id: ack.packetID) {
            let intended = message.intended
            if ack.reasonCode < 0x80 {
                let kind = shared.kinds.count > 1 ? UInt8(truncatingIfNeeded: kind(of: message.seq)) : 0
                actions.append(.record(.acked(latency: now - intended, kind: kind)))
            } else {
                actions.append(.record(.failed(count: 1, reason: .rejected)))
            }
        }
        while session.inflight.count < config.maxInflight, let message = queue.popFirst() {
            Self.publish(message, qos: qos(of: message.seq), session: &session, into: &actions)
            session.lastWrite = now
        }
        if shared.closedLoop { fillWindow(now: now, into: &actions) }
        disconnectIfDone(now: now, into: &actions)
    }

    /// Message `seq`'s QoS and kind index (as the events carry it).
    func kindAndQoS(of seq: UInt64) -> (MQTTQoS, UInt8) {
        guard !shared.kinds.isEmpty else { return (shared.qos, 0) }
        let k = kind(of: seq)
        return (shared.kinds[k].qos, UInt8(truncatingIfNeeded: k))
    }
}
