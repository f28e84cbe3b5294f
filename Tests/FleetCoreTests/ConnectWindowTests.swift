import FleetCore
import Testing

/// The adaptive connect window (`fleet.max_in_flight: auto`) against a model of a hub's listener, and its bounds under
/// random completions.
@Suite("Adaptive connect window")
struct ConnectWindowTests {
    /// A listener like mosquitto's: a listen backlog of `backlog` connects, served one every `serviceMicros`; a SYN
    /// that finds the backlog full is dropped and the kernel sends it again 1 s later. The generator starts `devices`
    /// connects as its window allows (all at once: no ramp), in virtual time (steps of 10 µs or the service time).
    struct Listener {
        let backlog: Int
        let serviceMicros: Int
        let roundTripMicros = 200

        struct Result {
            var drops = 0
            var doneMicros = 0
            var largestWindow = 0
        }

        /// `shards` generators (each its share of the devices and its own window, `share` of them pacing this hub
        /// in its own eyes) against the one listener.
        func storm(devices: Int, window fixed: Int?, shards: Int = 1, share: Int = 1) -> Result {
            var adaptive = Array(repeating: ConnectWindow(cap: 1_000_000, share: share), count: shards)
            var result = Result()
            // Connects in the backlog, oldest first: when each started and which generator started it.
            var queue: [(started: Int, shard: Int)] = []
            var head = 0
            // SYNs dropped, in the order they are due again (each 1 s after its drop: a FIFO).
            var retransmits: [(due: Int, started: Int, shard: Int)] = []
            var retransmitHead = 0
            var started = Array(repeating: 0, count: shards)
            var inFlight = Array(repeating: 0, count: shards)
            var done = 0
            var now = 0
            var nextService = serviceMicros
            let step = min(10, serviceMicros)
            func window(_ k: Int) -> Int { fixed ?? adaptive[k].size }
            while done < devices / shards * shards {
                // SYNs sent again after a drop join the backlog (or are dropped again) when due.
                while retransmitHead < retransmits.count && retransmits[retransmitHead].due <= now {
                    let r = retransmits[retransmitHead]
                    retransmitHead += 1
                    if queue.count - head < backlog {
                        queue.append((r.started, r.shard))
                    } else {
                        result.drops += 1
                        retransmits.append((now + 1_000_000, r.started, r.shard))
                    }
                }
                for k in 0..<shards {
                    while inFlight[k] < window(k) && started[k] < devices / shards {
                        started[k] += 1
                        inFlight[k] += 1
                        if queue.count - head < backlog {
                            queue.append((now, k))
                        } else {
                            result.drops += 1
                            retransmits.append((now + 1_000_000, now, k))
                        }
                    }
                    result.largestWindow = max(result.largestWindow, window(k))
                }
                if now >= nextService {
                    nextService = now + serviceMicros
                    if head < queue.count {
                        let (startedAt, k) = queue[head]
                        head += 1
                        inFlight[k] -= 1
                        done += 1
                        adaptive[k].connected(latency: .microseconds(now - startedAt + roundTripMicros))
                    }
                }
                now += step
            }
            result.doneMicros = now
            return result
        }
    }

    /// 10,000 devices at once against a backlog of 100 served at 10,000 connects/s: a fixed window of 500 drops SYNs
    /// (each a 1 s retransmit) and ends a second later than the hub could; `auto` finds a window that never
    /// overflows the backlog and finishes within a few per cent of the hub's own pace.
    @Test func aStormNeverOverflowsTheBacklog() {
        let listener = Listener(backlog: 100, serviceMicros: 100)
        let fixed = listener.storm(devices: 10_000, window: 500)
        let auto = listener.storm(devices: 10_000, window: nil)
        let hubPace = 10_000 * 100
        #expect(fixed.drops > 0 && fixed.doneMicros > hubPace + 900_000, "\(fixed)")
        #expect(auto.drops == 0, "\(auto)")
        #expect(auto.doneMicros <= hubPace * 105 / 100, "\(auto)")
        #expect(auto.largestWindow <= 100, "\(auto)")
    }

    /// Shards of one run pace the same hub, each seeing only its own connects: each keeps 1/N of what may wait there
    /// (`ConnectWindow.waitingTarget`). Four shards that each kept the whole fleet's target would hold more connects
    /// waiting than mosquitto's backlog of 100 and drop SYNs; with their share they drop none and keep the hub's pace.
    @Test func shardsShareWhatMayWait() {
        let listener = Listener(backlog: 100, serviceMicros: 100)
        let hubPace = 10_000 * 100
        let whole = listener.storm(devices: 10_000, window: nil, shards: 4, share: 1)
        let shared = listener.storm(devices: 10_000, window: nil, shards: 4, share: 4)
        #expect(whole.drops > 0, "\(whole)")
        #expect(shared.drops == 0, "\(shared)")
        #expect(shared.doneMicros <= hubPace * 105 / 100, "\(shared)")
        #expect(ConnectWindow(cap: 1_000, share: 4).waitingTarget == ConnectWindow.queueTarget / 4)
        #expect(ConnectWindow(cap: 1_000, share: 1_000).waitingTarget == ConnectWindow.minimum)
    }

    /// A faster hub: the window grows past the initial 16 to keep it busy.
    @Test func aFastHubGetsAWiderWindow() {
        let auto = Listener(backlog: 4096, serviceMicros: 5).storm(devices: 20_000, window: nil)
        #expect(auto.drops == 0 && auto.largestWindow > ConnectWindow.initial, "\(auto)")
        #expect(auto.doneMicros <= 20_000 * 5 * 120 / 100, "\(auto)")
    }

    /// Any order of fast, slow, failed and refused connects: the window stays within its bounds, grows by at most one
    /// per fast connect, and shrinks at most once per window's worth of completions: halved only on a sign of
    /// congestion, or, past slow start, trimmed by half the connects that waited beyond `queueTarget` (computed here
    /// from the connect's latency and the fastest one, apart from the window's own arithmetic).
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func boundsUnderRandomCompletions(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let cap = Int(random.next() % 300) + 4
        var w = ConnectWindow(cap: cap)
        var sinceDecrease = Int.max
        var halvings = 0
        var trims = 0
        for step in 0..<6_000 {
            let before = w.size
            let fastest = w.fastest
            let avoiding = w.size >= w.threshold
            // Blocks of 1,500 completions alternate: any kind (failures and slow connects keep the window small), then
            // only connects below `queueFloor`.
            let calm = (step / 1_500) % 2 == 1
            let kind = calm ? 3 + random.next() % 47 : random.next() % 50
            sinceDecrease = sinceDecrease == .max ? .max : sinceDecrease + 1
            var congested = false
            var trimTo: Int?
            switch kind {
            case 0:
                w.failed()
                congested = true
            case 1: w.refused()
            case 2:
                let latency = Duration.milliseconds(Int64(900 + random.next() % 2000))
                w.connected(latency: latency)
                congested = true
            default:
                // Calm blocks start near the fastest connect (the window grows past the target) and then slow to
                // just below `queueFloor` (many wait at once: trims of several slots).
                let spread: UInt64 = calm ? (step % 1_500 < 1_000 ? 200 : 1_800) : (kind < 30 ? 1_800 : 30_000)
                let latency = Duration.microseconds(Int64(100 + random.next() % spread))
                congested =
                    latency >= ConnectWindow.queueFloor
                    && latency.nanoseconds / ConnectWindow.queueFactor > (fastest ?? latency).nanoseconds
                if let fastest, avoiding, latency > fastest {
                    let ratio = Double(fastest.nanoseconds) / Double(latency.nanoseconds)
                    let waiting = Int(Double(before) * (1 - ratio))
                    if waiting > ConnectWindow.queueTarget {
                        trimTo = max(ConnectWindow.minimum, before - max(1, (waiting - ConnectWindow.queueTarget) / 2))
                    }
                }
                w.connected(latency: latency)
            }
            #expect(w.size >= min(ConnectWindow.minimum, cap) && w.size <= cap, "\(w)")
            #expect(w.size <= before + 1, "grows by one at most")
            if w.size < before {
                #expect(sinceDecrease >= before, "at most once per window's worth of completions")
                if congested {
                    #expect(w.size == max(ConnectWindow.minimum, before / 2), "halves")
                    halvings += 1
                } else {
                    #expect(w.size == trimTo, "trimmed by half the excess over the queue target")
                    trims += 1
                }
                sinceDecrease = 0
            }
        }
        #expect(w.decreases == halvings, "halvings counted apart")
        #expect(w.trims == trims, "trims counted apart")
        // A window capped near the target never keeps enough waiting to be trimmed.
        if cap > 2 * ConnectWindow.queueTarget { #expect(trims > 0, "the completions reached a trim (cap \(cap))") }
    }
}
