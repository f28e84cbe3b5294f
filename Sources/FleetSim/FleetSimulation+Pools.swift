internal import FleetCore
internal import FleetHubCore

/// A pooled AMQP connection as FleetSim models it (`DeviceAMQPPool` over sockets, reference §11.1): opened (TCP
/// through the listener's accept limit, then SASL and open) by the first device that connects while it is down,
/// joined by the others, closed when its last device leaves. A hub drop of any device on it closes it, so every
/// device on it loses its session in the same instant; one handshake brings them back.
struct SimPool {
    enum State: UInt8 { case down, opening, open }
    enum Phase: UInt8 { case none, waiting, member }

    var state = State.down
    /// Events of an older connection of this pool are ignored.
    var generation: UInt32 = 0
    /// Devices waiting for the connection to open (with their connection generation; stale entries are skipped).
    var waiting: [(device: Int32, generation: UInt32)] = []
    var waitingCount = 0
    var members = 0
}

extension FleetSimulation.State {
    /// Pools per pooled cohort, over the cohort's devices in this partition: as few connections as hold them at the
    /// profile's devices per connection (or the pool size's share of this partition, when larger). Device `j` of
    /// the cohort here rides pool `j % count`, as over sockets.
    mutating func layOutPools(_ cohorts: [Scenario.Cohort]) {
        var start = 0
        for (c, cohort) in cohorts.enumerated() {
            var local = 0
            while start + local < devices.count && Int(devices[start + local].cohort) == c { local += 1 }
            let pool = cohort.amqpPool
            var count = 0
            if cohort.amqp && pool.isPooled && local > 0 {
                count = (local + pool.devicesPerConnection - 1) / pool.devicesPerConnection
                if let size = pool.poolSize { count = min(local, max(count, size / partitions)) }
            }
            poolLayout.append((start, start + local, count, pools.count))
            pools.append(contentsOf: repeatElement(SimPool(), count: count))
            start += local
        }
    }

    /// The pool device `i` rides; nil when it has a connection of its own.
    func pool(of i: Int) -> Int? {
        guard !pools.isEmpty else { return nil }
        let layout = poolLayout[Int(devices[i].cohort)]
        guard layout.count > 0 else { return nil }
        return layout.first + (i - layout.start) % layout.count
    }

    /// Device `i`'s machine asked to connect (its generation already advanced).
    mutating func joinPool(_ i: Int, pool p: Int) {
        let (d, g) = (UInt32(i), devices[i].generation)
        switch pools[p].state {
        case .open:
            devices[i].pooled = .member
            pools[p].members += 1
            // Admitted on the next turn, as the pool's handler does it.
            wheel.schedule(at: now, .sessionReady(d, g))
        case .opening:
            devices[i].pooled = .waiting
            pools[p].waiting.append((Int32(i), g))
            pools[p].waitingCount += 1
        case .down:
            devices[i].pooled = .waiting
            pools[p].state = .opening
            pools[p].generation &+= 1
            pools[p].waiting = [(Int32(i), g)]
            pools[p].waitingCount = 1
            let (pp, pg) = (UInt32(p), pools[p].generation)
            if hub.model.acceptRate > 0 {
                send(at: now + oneWay(), .poolSyn(pp, pg, retries: 0))
            } else {
                send(at: now + oneWay() + oneWay(), .poolEstablished(pp, pg))
            }
        }
    }

    /// Device `i`'s session ended (its own close, the hub's, or the end of the run): the last one closes the pool.
    mutating func leavePool(_ i: Int) {
        guard let p = pool(of: i) else { return }
        switch devices[i].pooled {
        case .none: return
        case .waiting: pools[p].waitingCount -= 1
        case .member: pools[p].members -= 1
        }
        devices[i].pooled = .none
        if pools[p].members == 0 && pools[p].waitingCount == 0 && pools[p].state != .down {
            pools[p].state = .down
            pools[p].generation &+= 1
            pools[p].waiting = []
        }
    }

    /// The hub closes (or resets) pool `p`'s connection: every device with a session on it learns it at once.
    mutating func dropPool(_ p: Int, reset: Bool) {
        guard pools[p].state == .open,
            let layout = poolLayout.first(where: { $0.count > 0 && p >= $0.first && p < $0.first + $0.count })
        else { return }
        pools[p].state = .down
        pools[p].generation &+= 1
        pools[p].members = 0
        // The pool's devices: every `count`-th device of its cohort here, from its own offset.
        var i = layout.start + (p - layout.first)
        while i < layout.end {
            if devices[i].pooled == .member {
                devices[i].pooled = .none
                if devices[i].hub.link != .none {
                    let g = devices[i].hub.connection
                    hub.closed(&devices[i].hub, now: now)
                    send(at: now + oneWay(), .closedByHub(UInt32(i), g, reset: reset))
                }
            }
            i += layout.count
        }
    }

    /// The pool connection's own events.
    mutating func handlePool(_ event: FleetSimulation.Event) {
        switch event {
        case .poolSyn(let pp, let g, let retries):
            let p = Int(pp)
            guard pools[p].generation == g, pools[p].state == .opening else { return }
            if hub.accept(now: now) {
                send(at: now + oneWay(), .poolEstablished(pp, g))
            } else if retries < 6 {
                wheel.schedule(at: now + .seconds(Int64(1) << Int64(retries)), .poolSyn(pp, g, retries: retries + 1))
            }
        case .poolEstablished(let pp, let g):
            let p = Int(pp)
            guard pools[p].generation == g, pools[p].state == .opening else { return }
            send(at: now + roundTrips(AMQPDeviceBridge.pooledConnectionRoundTrips), .poolOpen(pp, g))
        case .poolOpen(let pp, let g):
            let p = Int(pp)
            guard pools[p].generation == g, pools[p].state == .opening else { return }
            pools[p].state = .open
            let ready = pools[p].waiting
            pools[p].waiting = []
            pools[p].waitingCount = 0
            for (d, dg) in ready where devices[Int(d)].generation == dg && devices[Int(d)].pooled == .waiting {
                devices[Int(d)].pooled = .member
                pools[p].members += 1
                sessionReady(Int(d), generation: dg)
            }
            if pools[p].members == 0 {
                pools[p].state = .down
                pools[p].generation &+= 1
            }
        default:
            break
        }
    }

    /// Device `i`'s session on its open pool: the hub opens its side (no accept: the connection was accepted), the
    /// machine's connect succeeded.
    mutating func sessionReady(_ i: Int, generation g: UInt32) {
        guard g == devices[i].generation, devices[i].pooled == .member else { return }
        hub.sessionOpened(&devices[i].hub, connection: g, now: now)
        let base = actions.count
        devices[i].machine.connectSucceeded(now: now, into: &actions)
        run(device: i, from: base)
    }
}
