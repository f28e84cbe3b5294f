internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
internal import FleetMetrics

/// What each event does: device timers and packets, the hub's side of a connection, fault steps.
extension FleetSimulation.State {
    // MARK: - events

    mutating func handle(_ event: FleetSimulation.Event, deadline: Instant) {
        let base = actions.count
        switch event {
        case .timer(let d, let kind):
            let i = Int(d)
            devices[i].timers[kind] = nil
            devices[i].machine.timerFired(kind, deadline: deadline, now: now, into: &actions)
            run(device: i, from: base)
        case .syn(let d, let g, let retries):
            let i = Int(d)
            guard g == devices[i].generation else { return }
            if hub.syn(&devices[i].hub, connection: g, now: now) != nil {
                send(at: now + oneWay(), .established(d, g))
            } else if retries < 6 {
                // The listener's backlog is full: the SYN is dropped; the kernel sends it again after 1, 2, 4 s...
                let wait = Duration.seconds(Int64(1) << Int64(retries))
                wheel.schedule(at: now + wait, .syn(d, g, retries: retries + 1))
            }
        case .established(let d, let g):
            let i = Int(d)
            guard g == devices[i].generation else { return }
            if hub.model.acceptRate <= 0 { _ = hub.syn(&devices[i].hub, connection: g, now: now) }
            devices[i].machine.connectSucceeded(now: now, into: &actions)
            run(device: i, from: base)
        case .toHub(let d, let g, let packet):
            hubReceives(packet, device: Int(d), generation: g)
        case .toDevice(let d, let g, let packet):
            let i = Int(d)
            guard g == devices[i].generation, !devices[i].hub.silenced else { return }
            devices[i].machine.packetReceived(packet.packet(qos: scenario.telemetry.qos), now: now, into: &actions)
            run(device: i, from: base)
        case .toDeviceThenClose(let d, let g, let packet):
            let i = Int(d)
            guard g == devices[i].generation, !devices[i].hub.silenced else { return }
            devices[i].machine.packetReceived(
                packet.packet(qos: cohortQoS[Int(devices[i].cohort)]),
                now: now,
                into: &actions
            )
            run(device: i, from: base)
            // The FIN right behind it (unless the device closed first, on the packet).
            if g == devices[i].generation { handle(.closedByHub(d, g, reset: false), deadline: deadline) }
        case .closedByHub(let d, let g, let reset):
            let i = Int(d)
            guard g == devices[i].generation else { return }
            devices[i].generation &+= 1
            if devices[i].pooled != .none { leavePool(i) }
            if devices[i].hub.holds(g) { hub.closed(&devices[i].hub, now: now) }
            devices[i].machine.channelClosed(error: reset ? .reset : nil, now: now, into: &actions)
            run(device: i, from: base)
        case .finReachesHub(let d, let g):
            if devices[Int(d)].hub.holds(g) { hub.closed(&devices[Int(d)].hub, now: now) }
        case .hubIdle(let d, let g):
            hubIdle(device: Int(d), generation: g)
        case .poolSyn, .poolEstablished, .poolOpen:
            handlePool(event)
        case .sessionReady(let d, let g):
            sessionReady(Int(d), generation: g)
        case .fault(let k):
            let event = plan.events[Int(k)]
            if faultLog.records[event.fault].startNanoseconds < 0 {
                for r in recorders { r.faultStarted(at: now) }
                let fleet = devices
                storms.mark(group: plan.group(of: event.fault), devices: fleet.count) {
                    fleet[$0].machine.isConnected
                }
            }
            let affected = apply(event.step, fault: plan.faults[event.fault], index: event.fault)
            faultLog.applied(event, elapsed: now.nanoseconds, affected: affected)
            faultsApplied += 1
            nextFaultAt =
                faultsApplied < plan.events.count
                ? Instant.zero + plan.events[faultsApplied].at : Instant(nanoseconds: .max)
        case .ramp:
            pump()
            if !gate.done && !stopping { wheel.schedule(at: now + .milliseconds(2), .ramp) }
        case .stop:
            hitDeadline = finished < devices.count
            stopAll()
        case .forceClose:
            for i in devices.indices where devices[i].machine.outcome == nil {
                devices[i].generation &+= 1
                if devices[i].pooled != .none { leavePool(i) }
                if devices[i].hub.link != .none { hub.closed(&devices[i].hub, now: now) }
                devices[i].machine.channelClosed(now: now, into: &actions)
                run(device: i, from: base)
            }
        }
    }

    mutating func hubReceives(_ packet: HubPacket, device i: Int, generation g: UInt32) {
        guard devices[i].hub.holds(g) else { return }
        let id = devices[i].machine.deviceID
        if hub.isSilent(devices[i].hub, id: id) {
            // Half-open: the bytes vanish; the hub notices only when its idle check finds the silence.
            scheduleIdleCheck(i)
            return
        }
        answer(hub.received(packet, side: &devices[i].hub, id: id, now: now), device: i, at: now)
    }

    /// Sends the hub's answer to device `i`'s current hub connection, from hub time `at`.
    mutating func answer(_ answer: SimHub.Answer, device i: Int, at: Instant) {
        let (d, g) = (UInt32(i), devices[i].hub.connection)
        switch answer {
        case .nothing:
            break
        case .reply(let packet, let delay, let close):
            let leaves = release(i, at: at + delay)
            var arrival = leaves + oneWay()
            // Over AMQP an accepted device still attaches its telemetry link before it counts as connected.
            if packet == .connack(code: 0) {
                arrival = arrival + roundTrips(handshake[Int(devices[i].cohort)].afterAcceptance)
            }
            send(at: arrival, close ? .toDeviceThenClose(d, g, packet) : .toDevice(d, g, packet))
        case .close(let reset):
            if reset, devices[i].pooled == .member, let p = pool(of: i) {
                // A reset is the connection's: every device on a pooled one loses its session with it.
                return dropPool(p, reset: true)
            }
            send(at: release(i, at: at) + oneWay(), .closedByHub(d, g, reset: reset))
        }
    }

    /// When an answer due at `at` leaves: not before the answers already waiting on the same connection (as the
    /// test hub orders its delayed writes, so a close never overtakes a held-back PUBACK).
    mutating func release(_ i: Int, at: Instant) -> Instant {
        let leaves = max(at.nanoseconds, devices[i].hub.writesNotBefore)
        devices[i].hub.writesNotBefore = leaves
        return Instant(nanoseconds: leaves)
    }

    /// A publish may be answered when it is sent, for its arrival, when nothing can change the hub's answer in
    /// between: no throttle, quota or fault in force, no fault step before it arrives, and the hub holding the
    /// device's connection. (Saves one event per message; the answer is the one the hub would give.)
    func canAnswerEarly(device i: Int, arrival: Instant) -> Bool {
        let side = devices[i].hub
        return arrival < nextFaultAt && hub.core.quotas == nil && hub.core.faults.isEmpty && !side.silenced
            && side.link == .connected && side.connection == devices[i].generation
    }

    mutating func scheduleIdleCheck(_ i: Int) {
        guard !devices[i].hub.idleCheck else { return }
        devices[i].hub.idleCheck = true
        let side = devices[i].hub
        let at = Instant(nanoseconds: Int64(side.lastHeard) * 1_000_000) + hub.idleLimit(side)
        wheel.schedule(at: max(at, now), .hubIdle(UInt32(i), side.connection))
    }

    mutating func hubIdle(device i: Int, generation g: UInt32) {
        devices[i].hub.idleCheck = false
        let side = devices[i].hub
        guard side.holds(g) else {
            // A check of an earlier connection: the current one may have asked for its own while this was pending
            // (a reconnect into a blackhole), so it gets one now; else nothing would close it.
            if side.link != .none { scheduleIdleCheck(i) }
            return
        }
        let limit = Instant(nanoseconds: Int64(side.lastHeard) * 1_000_000) + hub.idleLimit(side)
        guard now >= limit else { return scheduleIdleCheck(i) }
        hub.closed(&devices[i].hub, now: now)
        send(at: now + oneWay(), .closedByHub(UInt32(i), g, reset: false))
    }

    /// A fault step on the hub, as `HubState.apply` does it: returns the connections it affected.
    mutating func apply(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) -> Int {
        var affected = 0
        if let effect = HubFaults.effect(of: fault.kind, step: step) {
            // Chosen first, then acted on (as the test hub does over its connection list): a drop closing a pooled
            // connection closes its other devices' sessions too, whether the fault chose them or not.
            var chosen = devices.indices.filter {
                devices[$0].hub.link != .none && !devices[$0].hub.silenced
                    && fault.target.matches(deviceID: devices[$0].machine.deviceID, peer: { nil })
            }
            chosen.shuffle(using: &hubOrder)
            for i in chosen {
                affected += 1
                if effect == .close, devices[i].pooled == .member, let p = pool(of: i) {
                    dropPool(p, reset: false)
                    continue
                }
                guard devices[i].hub.link != .none else { continue }
                switch effect {
                case .close, .expire:
                    if effect == .expire { hub.core.recorder.countTokenExpiry() }
                    let g = devices[i].hub.connection
                    hub.closed(&devices[i].hub, now: now)
                    send(at: now + oneWay(), .closedByHub(UInt32(i), g, reset: false))
                case .silence:
                    devices[i].hub.silenced = true
                    scheduleIdleCheck(i)
                }
            }
        }
        if fault.kind == .blackhole, step == .start {
            for i in devices.indices
            where devices[i].hub.link != .none
                && fault.target.matches(deviceID: devices[i].machine.deviceID, peer: { nil })
            {
                affected += 1
            }
        }
        affected += hub.core.faultStep(step, fault: fault, index: index, now: now)
        return affected
    }
}
