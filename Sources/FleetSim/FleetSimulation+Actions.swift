internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
internal import FleetMetrics

/// Carrying out what a device's machine returned, as `DeviceChannelHandler` does over sockets.
extension FleetSimulation.State {
    // MARK: - device actions

    /// Carries out the actions the machine of device `i` appended to `actions` from index `base`, then drops them.
    /// `actions` is a stack: an action that drives another device (a freed connect slot starts the next one)
    /// appends that device's actions above these and removes them before returning, so one buffer serves every
    /// depth and nothing is allocated or reference-counted per event.
    mutating func run(device i: Int, from base: Int) {
        var closed = false
        var k = base
        while k < actions.count {
            // Moved out, a trivial action left in its place: the payload is not copied, and dropping the stack's
            // top destroys nothing.
            var action = DeviceAction.close
            swap(&action, &actions[k])
            k += 1
            perform(action, device: i, closed: &closed)
        }
        // Popped one by one: each is a trivial `.close` by now, and `removeLast()` is inlined where the generic
        // `removeSubrange` was a call into the standard library per event (2 % of a million-device run).
        while actions.count > base { actions.removeLast() }
        let queued = Int32(clamping: devices[i].machine.queuedMessages)
        if queued != devices[i].lastQueued {
            let delta = Int(queued - devices[i].lastQueued)
            unretained[Int(devices[i].cohort)]._withUnsafeGuaranteedRef { $0.queueChanged(by: delta, at: now) }
            devices[i].lastQueued = queued
        }
        // The channel reports closed right after the close (as NIO's channelInactive, in the same instant).
        if closed {
            let top = actions.count
            devices[i].machine.channelClosed(now: now, into: &actions)
            run(device: i, from: top)
        }
    }

    /// One action of device `i`'s machine.
    @inline(__always)
    private mutating func perform(_ action: consuming DeviceAction, device i: Int, closed: inout Bool) {
        let d = UInt32(i)
        do {
            switch action {
            case .connect:
                devices[i].generation &+= 1
                if let p = pool(of: i) {
                    joinPool(i, pool: p)
                } else if hub.model.acceptRate > 0 {
                    send(at: now + oneWay(), .syn(d, devices[i].generation, retries: 0))
                } else {
                    // A listener without an accept limit takes every SYN: the handshake completes one round trip
                    // later, and the hub opens the connection then (one event instead of two).
                    send(at: now + oneWay() + oneWay(), .established(d, devices[i].generation))
                }
            case .publish(let message):
                let packet = HubPacket.publish(
                    seq: UInt32(truncatingIfNeeded: message.seq),
                    packetID: message.packetID ?? 0,
                    qos: message.packetID == nil ? .atMostOnce : .atLeastOnce  // per message: a mix may hold both
                )
                let arrival = now + oneWay()
                if let sample { offer(message, device: i, to: sample, at: arrival) }
                if canAnswerEarly(device: i, arrival: arrival) {
                    let id = devices[i].machine.deviceID
                    answer(
                        hub.received(packet, side: &devices[i].hub, id: id, now: arrival),
                        device: i,
                        at: arrival
                    )
                } else {
                    send(at: arrival, .toHub(d, devices[i].generation, packet))
                }
            case .write(let packet):
                guard let sent = Self.hubPacket(packet) else { return }
                var at = now + oneWay()
                if sent == .connect {
                    let before =
                        devices[i].pooled == .none
                        ? handshake[Int(devices[i].cohort)].beforeCredentials : pooledHandshake.beforeCredentials
                    at = max(at, Instant(nanoseconds: devices[i].hub.acceptAt)) + roundTrips(before)
                }
                send(at: at, .toHub(d, devices[i].generation, sent))
            case .close:
                if devices[i].hub.holds(devices[i].generation) {
                    send(at: now + oneWay(), .finReachesHub(d, devices[i].generation))
                }
                devices[i].generation &+= 1
                if devices[i].pooled != .none { leavePool(i) }
                closed = true
            case .schedule(let kind, let at):
                if let old = devices[i].timers[kind] { wheel.cancel(old) }
                devices[i].timers[kind] = wheel.schedule(at: at, .timer(d, kind))
            case .cancel(let kind):
                if let old = devices[i].timers[kind] { wheel.cancel(old) }
                devices[i].timers[kind] = nil
            case .record(let event):
                record(event, device: i)
            }
        }
    }

    mutating func record(_ event: DeviceEvent, device i: Int) {
        let now = self.now
        unretained[Int(devices[i].cohort)]._withUnsafeGuaranteedRef { recorder in
            recorder.record(event, at: now)
            if !storms.isEmpty { storms.event(device: i, event, recorder: recorder, at: now) }
        }
        switch event {
        case .connected, .refused:
            releaseSlot(i)
        case .finished:
            finished += 1
            lastEnd = now
            releaseSlot(i)
        case .lateConnectClosed:
            lateConnects += 1
        default:
            break
        }
    }

    static func hubPacket(_ packet: MQTTPacket) -> HubPacket? {
        switch packet {
        case .connect: .connect
        case .publish(let p):
            if let (update, rid) = TwinTopic.request(p.topic) {
                .twin(rid: rid, bytes: UInt16(clamping: p.payload.readableBytes), update: update)
            } else {
                .publish(seq: 0, packetID: p.packetID ?? 0, qos: p.qos)
            }
        case .pingreq: .pingreq
        case .subscribe(let s): .subscribe(packetID: s.packetID, filters: UInt8(clamping: s.subscriptions.count))
        case .disconnect: .disconnect
        default: nil
        }
    }

    /// A message for the sample, written as the device would write it (only when sampling: packets carry no bytes).
    private func offer(_ message: TelemetryPublish, device i: Int, to sample: MessageSample, at arrival: Instant) {
        let machine = devices[i].machine
        guard case .publish(let p) = machine.packet(for: message) else { return }
        sample.offer(deviceID: machine.deviceID, topic: p.topic, payload: p.payload, at: arrival)
    }
}
