/// The connect window when `fleet.max_in_flight: auto`: how many first connects may wait for their CONNACK at once,
/// grown while connects stay fast and halved when one shows a hub that cannot keep up, so a storm connects as fast
/// as the hub accepts without overflowing its listen backlog (a dropped SYN costs the device the kernel's 1 s SYN
/// retransmit: a connect tail that measures the generator's pacing, not the hub).
///
/// Like TCP's congestion window: slow start (one more slot per fast connect, so the window doubles per round) up to
/// the first sign of congestion, then one more slot per window's worth of fast connects. A sign of congestion is a
/// connect that failed or timed out, or one slower than `slowConnect` (a SYN retransmit shows as at least 1 s), or
/// slower than `queueFactor` × the fastest connect seen and at least `queueFloor` (the backlog filling: connects queue
/// behind each other before SYNs drop); slow start already ends at a quarter of that. It halves the window once per
/// window's worth of completions, so a burst of slow connects that were in flight together counts once. Past slow
/// start it also keeps the connects that wait bounded, as TCP Vegas does: a connect that took `latency` while the
/// fastest took `fastest` says about size × (1 − fastest / latency) of the window are waiting (in the hub's backlog,
/// or in a busy generator's own loop); once per window's worth of completions, more than `queueTarget` waiting takes
/// the window down by half the excess. Waiting adds latency and no throughput, and a backlog that holds fewer than the
/// window drops SYNs in a burst before any connect looks slow (measured against mosquitto, `scripts/bench-limits.sh
/// window`: 27 and 28 SYNs dropped in 2 of 6 storms of 10,000 at windows up to 178; none since). Pure: driven by
/// completions, no clock.
public struct ConnectWindow: Sendable, Hashable {
    /// Slots now.
    public private(set) var size: Int
    /// The most it may grow to (the fleet's size, or `fleet.max_in_flight`'s largest value).
    public let cap: Int
    /// Slow start below this; the first congestion sets it to half the window.
    public private(set) var threshold: Int
    /// The fastest connect seen (nil before the first).
    public private(set) var fastest: Duration?
    /// Halvings so far (the report shows the window itself, as the `connect_window` series).
    public private(set) var decreases = 0
    /// Trims so far: the window taken down because too many connects waited (see `queueTarget`).
    public private(set) var trims = 0
    /// Fast completions since the window last grew in congestion avoidance.
    private var credit = 0
    /// Completions since the last halving (another waits for a window's worth).
    private var sinceDecrease = Int.max

    public static let initial = 16
    public static let minimum = 4
    public static let slowConnect: Duration = .milliseconds(900)
    public static let queueFactor: Int64 = 16
    public static let queueFloor: Duration = .milliseconds(2)
    /// Slow start ends (without a halving) at a connect this many times the fastest and at least `queueFloor`:
    /// the backlog has begun to fill.
    public static let slowStartExitFactor: Int64 = 4
    /// Past slow start, the connects the window may keep waiting beyond the fastest connect's time (a third of
    /// mosquitto's listen backlog of 100, the smallest here), for the whole fleet.
    public static let queueTarget = 32
    /// This window's part of `queueTarget`: the whole of it for one process, 1/N for each of N shards, which fill
    /// the same hub's backlog together and each see only their own connects (measured, 10,000 devices in 2 shard
    /// processes against mosquitto, each keeping the whole target waiting: 14 and 142 SYNs dropped in 2 of 4 storms).
    public let waitingTarget: Int

    /// A window of at most `cap` slots, one of `share` windows pacing connects to the same hub (shards of a run):
    /// it starts at 1/`share` of `initial` too, or the shards' slow starts, each doubling before the hub's queue
    /// shows in its latencies, overshoot together (in the listener model of `ConnectWindowTests`, 4 shards that
    /// started at the whole initial window dropped 2,369 SYNs with their share of the target alone).
    public init(cap: Int, share: Int = 1) {
        self.cap = max(Self.minimum, cap)
        size = min(max(Self.minimum, Self.initial / max(1, share)), self.cap)
        threshold = self.cap
        waitingTarget = max(Self.minimum, Self.queueTarget / max(1, share))
    }

    /// A first connect got its CONNACK after `latency` (TCP connect to CONNACK).
    public mutating func connected(latency: Duration) {
        countCompletion()
        if fastest.map({ latency < $0 }) ?? true { fastest = latency }
        if isCongested(latency) {
            decrease()
            return
        }
        if size < threshold {
            // The fastest connect is set by now (this one, if none was faster).
            let farAboveFastest = latency.nanoseconds / Self.slowStartExitFactor > (fastest ?? latency).nanoseconds
            let queueing = latency >= Self.queueFloor && farAboveFastest
            if queueing || waitingBeyondTarget(latency) != nil {
                threshold = size  // queueing has begun (or more than the target waits): grow by one per window
            } else {
                size = min(cap, size + 1)
            }
        } else if let excess = waitingBeyondTarget(latency), sinceDecrease >= size {
            size = max(Self.minimum, size - max(1, excess / 2))
            threshold = size  // trimmed, not halved: go on growing by one per window
            credit = 0
            sinceDecrease = 0
            trims += 1
        } else {
            credit += 1
            if credit >= size {
                credit = 0
                size = min(cap, size + 1)
            }
        }
    }

    /// How many more connects than `waitingTarget` the window keeps waiting, judged by one that took `latency`
    /// (nil: not more).
    func waitingBeyondTarget(_ latency: Duration) -> Int? {
        guard let fastest, latency > fastest, latency.nanoseconds > 0 else { return nil }
        let waiting = Int(saturating: Double(size) * (1 - Double(fastest.nanoseconds) / Double(latency.nanoseconds)))
        return waiting > waitingTarget ? waiting - waitingTarget : nil
    }

    /// A first connect ended without a CONNACK: the socket failed, the connect or CONNACK timed out.
    public mutating func failed() {
        countCompletion()
        decrease()
    }

    /// A first connect the hub answered with a refusal: the hub keeps up (it answered), the window stays.
    public mutating func refused() {
        countCompletion()
    }

    private mutating func countCompletion() {
        if sinceDecrease < .max { sinceDecrease += 1 }
    }

    func isCongested(_ latency: Duration) -> Bool {
        if latency >= Self.slowConnect { return true }
        guard let fastest, latency >= Self.queueFloor else { return false }
        return latency.nanoseconds / Self.queueFactor > fastest.nanoseconds
    }

    private mutating func decrease() {
        guard sinceDecrease >= size, size > Self.minimum else { return }  // at the minimum it holds
        threshold = max(Self.minimum, size / 2)
        size = threshold
        credit = 0
        sinceDecrease = 0
        decreases += 1
    }
}
