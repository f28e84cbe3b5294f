public import FleetCore
internal import FleetMetrics
internal import NIOCore
internal import NIOPosix
internal import Synchronization

/// The root of a run: embedded hub, swarm and sampler as one structured-concurrency tree. Cancelling the task that
/// runs `run()` stops the devices cleanly and still returns the result.
public struct FleetRunner: Sendable {
    public var scenario: Scenario
    /// The embedded hub, or nil (an external broker; with `scenario.faultProxy` the runner puts its own fault
    /// proxy in front of it).
    public var hub: (any EmbeddedHub)?
    /// Called about every `progressInterval` from the sampler task.
    public var progress: (@Sendable (FleetProgress) -> Void)?
    public var progressInterval: Duration = .seconds(1)
    /// Called about every `snapshotInterval` with the run so far, for a live view (`run --ui`). Nil costs nothing.
    public var snapshots: (@Sendable (LiveSample) -> Void)?
    public var snapshotInterval: Duration = .seconds(1)
    /// The SDK-style per-device callbacks (status, cloud-to-device messages, send completions).
    public var callbacks = DeviceCallbacks()
    /// How long devices get to disconnect after the deadline before their connections are dropped.
    public var stopGrace: Duration = .seconds(5)
    /// Wall-clock instant (Unix nanoseconds) the fleet starts at, after the hub is up and reachable, so shards in
    /// several processes or pods start together (nil: at once; a past instant: at once).
    public var startAtUnixNanoseconds: Int64?

    public init(scenario: Scenario, hub: (any EmbeddedHub)?) {
        self.scenario = scenario
        self.hub = hub
    }

    public func run() async throws -> RunResult {
        let embedded = scenario.hub.isEmbedded
        let hubIsLoopback = embedded || scenario.hub.hostAndPort?.host.hasPrefix("127.") == true
        let auto = scenario.fleet.sourceAddresses.isEmpty && hubIsLoopback
        // Sockets, not devices: pooled AMQP devices share their pool's connections.
        let connections = scenario.networkConnections
        try Preflight.check(
            devices: connections,
            sourceAddresses: auto ? SourcePool.count(devices: connections) : scenario.fleet.sourceAddresses.count,
            embeddedHub: embedded,
            proxy: scenario.faultProxy || scenario.link != nil,
            limits: .current()
        )
        let sources = try scenario.fleet.sourceAddresses.map { a throws(FleetRunError) in
            do { return try SocketAddress(ipAddress: a, port: 0) } catch {
                throw FleetRunError(.invalidAddress, "fleet.source_addresses: \(a) is not a usable local address")
            }
        }

        var tls = try DeviceTLS.client(scenario.tls)
        if scenario.auth?.usesX509 == true {
            guard let settings = scenario.tls, tls != nil else {
                throw FleetRunError(.tls, "auth.mode x509 needs TLS: use an mqtts:// hub URL (or hub.tls: true)")
            }
            if scenario.effectiveCohorts.contains(where: { $0.amqp && $0.amqpPool.isPooled }) {
                throw FleetRunError(
                    .tls,
                    "auth.mode x509: a TLS connection presents one device's certificate, so X.509 devices cannot "
                        + "share pooled AMQP connections; set amqp.devices_per_connection: 1 (or auth.mode: sas)"
                )
            }
            let fleet = scenario.fleet
            let ids = (0..<fleet.devices).map { fleet.deviceID($0) }
            tls?.identities = try DeviceTLS.identities(scenario.auth, settings, ids: ids)
        }
        var front = hub
        var hubAddress: (host: String, port: Int)
        if embedded {
            guard let hub else { throw FleetRunError(.hubFailed, "no embedded hub was provided") }
            do { hubAddress = try await hub.start() } catch {
                throw FleetRunError(.hubFailed, "embedded hub could not start: \(error)")
            }
        } else {
            guard let t = scenario.hub.hostAndPort else {
                throw FleetRunError(.hubFailed, "the hub URL has no host and port: give hub.url as mqtt://HOST:PORT")
            }
            hubAddress = t
            if scenario.hubServesProfile { front = FaultMarks() }
            if scenario.faultProxy {
                let proxy = FaultProxy(upstreamHost: t.host, upstreamPort: t.port)
                do { hubAddress = try await proxy.start() } catch {
                    throw FleetRunError(.hubFailed, "fault proxy could not start: \(error)")
                }
                front = proxy
            }
        }

        // A slow link (GSM, satellite): every connection crosses a shaping relay on its way to the hub.
        var shaper: FaultProxy?
        if let link = scenario.link {
            let relay = FaultProxy(
                upstreamHost: hubAddress.host,
                upstreamPort: hubAddress.port,
                link: link,
                seed: scenario.seed
            )
            do { hubAddress = try await relay.start() } catch {
                if let front { _ = await front.stop() }
                throw FleetRunError(.hubFailed, "the link emulation (link:) could not start: \(error)")
            }
            shaper = relay
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        do {
            let resolved: SocketAddress
            do { resolved = try SocketAddress.makeAddressResolvingHost(hubAddress.host, port: hubAddress.port) } catch {
                throw FleetRunError(
                    .hubUnreachable,
                    "cannot resolve the hub's host \"\(hubAddress.host)\": check the host name in hub.url"
                )
            }
            if !embedded {
                try await Self.probe(resolved, url: scenario.hub.description, group: group)
            }
            if let at = startAtUnixNanoseconds {
                let wait = at - Self.unixNanoseconds()
                if wait > 0 {
                    do { try await Task.sleep(for: .nanoseconds(wait)) } catch {
                        throw FleetRunError(
                            .cancelled,
                            "stopped while waiting for the start time (--start-at): nothing ran"
                        )
                    }
                }
            }
            let pool =
                sources.isEmpty
                ? SourcePool.loopback(devices: scenario.fleet.devices, hub: resolved, shard: scenario.fleet.shard)
                : sources
            var result = try await drive(
                loop: loop,
                hubAddress: hubAddress,
                resolved: resolved,
                sources: pool,
                front: front,
                tls: tls
            )
            try? await group.shutdownGracefully()
            if let shaper { _ = await shaper.stop() }
            if let front { result.hub = await front.stop() }
            return result
        } catch {
            try? await group.shutdownGracefully()
            if let shaper { _ = await shaper.stop() }
            if let front { _ = await front.stop() }
            throw error
        }
    }

    /// The hub the devices reached, as a URL of their transport (the embedded hub's listener for `embedded`).
    static func target(_ scenario: Scenario, _ address: (host: String, port: Int)) -> Scenario.HubTarget {
        var target = Scenario.HubTarget.mqtt(host: address.host, port: address.port, tls: scenario.tls != nil)
        target.webSocketPath = scenario.hub.webSocketPath
        target.https = scenario.hub.https
        target.amqp = scenario.hub.amqp
        return target
    }

    private func drive(
        loop: any EventLoop,
        hubAddress: (host: String, port: Int),
        resolved: SocketAddress,
        sources: [SocketAddress],
        front: (any EmbeddedHub)?,
        tls: DeviceTLS?
    )
        async throws -> RunResult
    {
        let scenario = self.scenario
        await front?.resetClock()
        // With a shared start instant, time zero is that instant even for a process that got there late: its faults
        // (or their marks) and its deadline keep the times every other shard and the hub use.
        let now = Self.unixNanoseconds()
        let late = startAtUnixNanoseconds.map { max(0, now - $0) } ?? 0
        let startedUnix = now - late
        let origin = NIODeadline.now() - .nanoseconds(late)
        let callbacks = self.callbacks
        let swarm = try await loop.submit {
            let scheduler = LoopScheduler(loop: loop, origin: origin)
            let swarm = Swarm(
                loop: loop,
                scheduler: scheduler,
                recorders: scenario.effectiveCohorts.map {
                    Recorder(bin: scenario.bin, kinds: scenario.mix(of: $0).map(\.name))
                },
                scenario: scenario,
                unixNanosecondsAtZero: startedUnix,
                hubAddress: resolved,
                serverName: hubAddress.host,
                sourceAddresses: sources,
                tls: tls,
                callbacks: callbacks
            )
            return NIOLoopBound(swarm, eventLoop: loop)
        }.get()
        let faults = FaultTimeline(scenario.faults)
        let elapsed: @Sendable () -> Int64 = { Int64(NIODeadline.now().uptimeNanoseconds - origin.uptimeNanoseconds) }
        // Retry attempts are placed relative to the latest fault's start (jitter dispersion), and a storm's affected
        // devices are those connected at its start: both are marked on the device loop before the fault acts, so no
        // loss or retry precedes the mark.
        let markFault: @Sendable (Instant, Int) async -> Void = { mark, group in
            try? await loop.submit {
                for r in swarm.value.recorders { r.faultStarted(at: mark) }
                swarm.value.markStorm(group: group)
            }.get()
        }
        // A hub in another process acts at the fault's time: mark a little ahead of it.
        let lead: Duration = scenario.hubServesProfile ? .milliseconds(50) : .zero
        if let front {
            // Faults due at time zero are in force before the first device connects.
            await faults.play(on: front, lead: lead, through: lead, elapsed: elapsed, starting: markFault)
        }
        try await loop.submit {
            swarm.value.start()
            swarm.value.scheduler.startProbe()
        }.get()
        let loopThread = try await loop.submit { SystemProbe.threadID() }.get()
        // Descriptors are sampled off the device loop (listing /proc/self/fd costs milliseconds at 20k sockets).
        let descriptorLimit = DescriptorBudget.raiseLimit()
        let descriptors = LockedBox((current: SystemProbe.openDescriptors(), peak: 0))
        let finished = try await loop.submit { swarm.value.finishedFuture }.get()
        let grace = stopGrace
        let stopOnLoop: @Sendable () -> Void = { loop.execute { swarm.value.stopAll(grace: grace) } }
        let deadlineBox = FlagBox()

        await withDiscardingTaskGroup { group in
            if let progress {
                let interval = progressInterval
                group.addTask {
                    await Self.every(interval) {
                        guard var p = try? await loop.submit({ Self.progress(swarm.value, origin: origin) }).get()
                        else { return }
                        p.openDescriptors = descriptors.withLock { $0.current }
                        p.descriptorLimit = descriptorLimit
                        progress(p)
                    }
                }
            }
            if let snapshots {
                let interval = snapshotInterval
                group.addTask {
                    await Self.every(interval) {
                        // Copies on the loop (the recorders are the loop's); the merge runs here.
                        guard
                            let (parts, at) = try? await loop.submit({
                                (swarm.value.recorders.map { $0.capture() }, Duration.nanoseconds(elapsed()))
                            }).get()
                        else { return }
                        var merged = Snapshot()
                        for p in parts { try? merged.merge(p) }
                        let hubStats = await hub?.stats()
                        let started = faults.records(runEnd: at.nanoseconds)
                        snapshots(LiveSample(snapshot: merged, hub: hubStats, faults: started, elapsed: at))
                    }
                }
            }
            if let front, !scenario.faults.isEmpty {
                group.addTask {
                    await faults.play(on: front, lead: lead, elapsed: elapsed, starting: markFault)
                }
            }
            group.addTask {
                // Descriptor headroom: the most descriptors open at once, sampled every 250 ms.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let open = SystemProbe.openDescriptors()
                    descriptors.withLock { $0 = (open, max($0.peak, open)) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: scenario.duration - .nanoseconds(late))
                if !Task.isCancelled {
                    deadlineBox.set()
                    stopOnLoop()
                }
            }
            await withTaskCancellationHandler {
                _ = try? await finished.get()
            } onCancel: {
                stopOnLoop()
            }
            group.cancelAll()
        }
        let cancelled = Task.isCancelled
        if let front { await faults.closeOpenWindows(on: front, elapsed: elapsed) }
        let (cohortSnapshots, malformed, schedulerHealth) = try await loop.submit {
            let s = swarm.value
            s.scheduler.shutdown()
            for h in s.handlers { h.notePending() }
            return (s.recorders.map { $0.capture() }, s.malformedPackets, s.scheduler.health)
        }.get()
        var health = schedulerHealth
        health.descriptorLimit = descriptorLimit
        health.descriptorPeak = descriptors.withLock { max($0.peak, SystemProbe.openDescriptors()) }
        health.loopCPUSeconds = SystemProbe.cpuSeconds(thread: loopThread)
        health.wallSeconds = Double(NIODeadline.now().uptimeNanoseconds - origin.uptimeNanoseconds) / 1e9
        let (snapshot, cohorts) = try CohortSnapshot.split(scenario, cohortSnapshots)
        return RunResult(
            scenario: scenario,
            snapshot: snapshot,
            cohorts: cohorts,
            hub: nil,
            target: Self.target(scenario, hubAddress).description,
            startedUnixNanoseconds: startedUnix,
            duration: .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds - origin.uptimeNanoseconds)),
            hitDeadline: deadlineBox.isSet,
            cancelled: cancelled,
            malformedPackets: malformed,
            health: health,
            faults: faults.records(runEnd: elapsed())
        )
    }

    private static func progress(_ s: Swarm, origin: NIODeadline) -> FleetProgress {
        var counters = FleetCounters()
        var connectedNow: UInt64 = 0
        for r in s.recorders {
            counters.add(r.counters)
            connectedNow += r.snapshot.connectedNow
        }
        return FleetProgress(
            elapsed: .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds - origin.uptimeNanoseconds)),
            devices: s.handlers.count,
            started: s.startedCount,
            finished: s.finished,
            connectedNow: connectedNow,
            connectAttempts: counters.connectAttempts,
            generated: counters.generated,
            acked: counters.acked,
            failed: counters.failed,
            publishAckP99Nanoseconds: s.recorders.map(\.publishAckP99).max() ?? 0,
            refused: counters.refused,
            reconnects: counters.reconnects,
            retries: counters.retries,
            loopLagP99Nanoseconds: s.scheduler.health.loopLagP99,
            lateSendFraction: s.scheduler.health.lateSendFraction
        )
    }
}
