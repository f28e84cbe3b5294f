internal import FleetCore
internal import FleetHub
internal import FleetMQTT
internal import FleetMetrics

/// Carrying out what a device's machine returned, as `DeviceChannelHandler` does over sockets.
extension FleetSimulation.State {
    // MARK: - device actions

    /// Carries out the actions the machine of device `i` returned (in `actions`).
    mutating func run(device i: Int) {
        var list: [DeviceAction] = spareActions.popLast() ?? []
        swap(&list, &actions)
        var closed = false
        defer {
            list.removeAll(keepingCapacity: true)
            spareActions.append(list)
            // The channel reports closed right after the close (as NIO's channelInactive, in the same instant).
            if closed {
                actions.removeAll(keepingCapacity: true)
                devices[i].machine.channelClosed(now: now, into: &actions)
                run(device: i)
            }
        }
        // Borrowed from the buffer: no copy (and later destroy) of each action's payload.
        list.withUnsafeBufferPointer { buffer in
            for k in buffer.indices {
                perform(buffer[k], device: i, closed: &closed)
            }
        }
        let queued = Int32(clamping: devices[i].machine.queuedMessages)
        if queued != devices[i].lastQueued {
            recorders[Int(devices[i].cohort)].queueChanged(by: Int(queued - devices[i].lastQueued), at: now)
            devices[i].lastQueued = queued
        }
    }

    /// One action of device `i`'s machine.
    @inline(__always)
    private mutating func perform(_ action: borrowing DeviceAction, device i: Int, closed: inout Bool) {
        let d = UInt32(i)
        do {
            switch action {
            case .connect:
                devices[i].generation &+= 1
                if hub.model.acceptRate > 0 {
                    wheel.schedule(at: now + oneWay(), .syn(d, devices[i].generation, retries: 0))
                } else {
                    // A listener without an accept limit takes every SYN: the handshake completes one round trip
                    // later, and the hub opens the connection then (one event instead of two).
                    wheel.schedule(at: now + oneWay() + oneWay(), .established(d, devices[i].generation))
                }
            case .publish(let message):
                let packet = HubPacket.publish(
                    seq: UInt32(truncatingIfNeeded: message.seq),
                    packetID: message.packetID ?? 0,
                    qos: cohortQoS[Int(devices[i].cohort)]
                )
                let arrival = now + oneWay()
                if canAnswerEarly(device: i, arrival: arrival) {
                    let id = devices[i].machine.deviceID
                    answer(
                        hub.received(packet, side: &devices[i].hub, id: id, now: arrival),
                        device: i,
                        at: arrival
                    )
                } else {
                    wheel.schedule(at: arrival, .toHub(d, devices[i].generation, packet))
                }
            case .write(let packet):
                guard let sent = Self.hubPacket(packet) else { return }
                var at = now + oneWay()
                if sent == .connect { at = max(at, Instant(nanoseconds: devices[i].hub.acceptAt)) }
                wheel.schedule(at: at, .toHub(d, devices[i].generation, sent))
            case .close:
                if devices[i].hub.holds(devices[i].generation) {
                    wheel.schedule(at: now + oneWay(), .finReachesHub(d, devices[i].generation))
                }
                devices[i].generation &+= 1
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
        let recorder = recorders[Int(devices[i].cohort)]
        recorder.record(event, at: now)
        if !storms.isEmpty { storms.event(device: i, event, recorder: recorder, at: now) }
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
            .publish(seq: 0, packetID: p.packetID ?? 0, qos: p.qos)
        case .pingreq: .pingreq
        case .subscribe(let s): .subscribe(packetID: s.packetID, filters: UInt8(clamping: s.subscriptions.count))
        case .disconnect: .disconnect
        default: nil
        }
    }
}
