public import FleetMQTT

/// A validated fleet profile: everything a run needs, with defaults kept in one place (`Scenario.Defaults`).
public struct Scenario: Sendable, Hashable {
    /// Where devices connect.
    public struct HubTarget: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Kind: Hashable, Sendable {
            case embedded
            case mqtt(host: String, port: Int)
        }
        fileprivate var kind: Kind

        public static let embedded = HubTarget(kind: .embedded)
        public static func mqtt(host: String, port: Int) -> HubTarget { HubTarget(kind: .mqtt(host: host, port: port)) }

        /// nil for the embedded hub.
        public var hostAndPort: (host: String, port: Int)? {
            if case .mqtt(let h, let p) = kind { return (h, p) }
            return nil
        }

        public var isEmbedded: Bool { kind == .embedded }

        public var description: String {
            switch kind {
            case .embedded: "embedded"
            case .mqtt(let h, let p): "mqtt://\(h.contains(":") ? "[\(h)]" : h):\(p)"
            }
        }

        /// Parses `embedded` or `mqtt://HOST:PORT` (`[::1]` for IPv6); nil for anything else.
        public static func parse(_ text: String) -> HubTarget? {
            if text == "embedded" { return .embedded }
            guard text.hasPrefix("mqtt://") else { return nil }
            var rest = Substring(text.dropFirst("mqtt://".count))
            if rest.hasSuffix("/") { rest.removeLast() }
            let host: Substring
            let portText: Substring
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                host = rest[rest.index(after: rest.startIndex)..<close]
                let after = rest[rest.index(after: close)...]
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            } else {
                guard let colon = rest.lastIndex(of: ":") else { return nil }
                host = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
            }
            guard !host.isEmpty, !host.contains("/"), let port = Int(portText), (1...65535).contains(port) else {
                return nil
            }
            return .mqtt(host: String(host), port: port)
        }
    }

    public struct Fleet: Sendable, Hashable {
        /// Number of simulated devices.
        public var devices: Int = 100
        /// Device ids are the prefix plus a zero-padded index (`device-00042`).
        public var idPrefix: String = "device-"
        /// New connection attempts per second during the ramp; 0 means as fast as the window allows.
        public var rampRate: Double = 500
        /// Connection attempts in flight at once (TCP connect to CONNACK).
        public var maxInFlight: Int = 500
        /// Local addresses to spread connections over (127.x to pass the ephemeral port limit); empty lets the
        /// kernel choose.
        public var sourceAddresses: [String] = []

        public init() {}

        /// The id of device `index` (0-based).
        public func deviceID(_ index: Int) -> String {
            let digits = Swift.max(5, String(Swift.max(devices - 1, 0)).count)
            let n = String(index)
            return idPrefix + String(repeating: "0", count: Swift.max(0, digits - n.count)) + n
        }
    }

    public struct MQTT: Sendable, Hashable {
        public var version: MQTTVersion = .v311
        public var keepAlive: Duration = .seconds(60)
        public var cleanSession: Bool = true
        /// How long a device waits for CONNACK after the TCP connection is up.
        public var connackTimeout: Duration = .seconds(30)
        /// How long a TCP connect may take.
        public var connectTimeout: Duration = .seconds(30)
        /// Subscribe to cloud-to-device messages (`devices/{id}/messages/devicebound/#`, QoS 1) after each CONNACK.
        public var subscribeC2D = false
        public init() {}
    }

    public struct Telemetry: Sendable, Hashable {
        /// Messages per device; the device disconnects cleanly once all are acknowledged.
        public var messages: Int = 10
        /// Time between a device's messages (intended send times are on this grid).
        public var interval: Duration = .seconds(1)
        public var payloadBytes: Int = 64
        public var qos: MQTTQoS = .atLeastOnce
        /// Application properties sent in the topic's property bag (`devices/{id}/messages/events/k=v&...`).
        public var properties: [String: String] = [:]
        /// How long a device waits for the acknowledgements of its last messages before giving up on them.
        public var drainTimeout: Duration = .seconds(30)
        /// Messages a device keeps while it cannot send (disconnected, or its in-flight window is full).
        public var queueCapacity: Int = 1000
        public var queueOverflow: QueueOverflow = .dropOldest
        /// Unacknowledged QoS 1 messages at once per device; more wait in the queue.
        public var maxInflight: Int = 64
        public init() {}
    }

    public struct Retry: Sendable, Hashable {
        /// Policy for transient failures (default: the .NET SDK's).
        public var policy: RetryPolicy = .preset("azure-dotnet")
        /// Policy for throttled failures (default: the .NET SDK's legacy throttling policy).
        public var throttled: RetryPolicy = .preset("azure-dotnet-throttled")
        public init() {}
    }

    /// A share of the fleet with its own retry policy (and so its own SDK's error classification).
    public struct Cohort: Sendable, Hashable {
        public var name: String
        public var devices: Int
        public var retry: Retry

        public init(name: String, devices: Int, retry: Retry) {
            self.name = name
            self.devices = devices
            self.retry = retry
        }
    }

    /// A scripted fault on the embedded hub: at a time, for a window (instant faults ignore the window).
    public struct Fault: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            /// Close every device connection at once (no DISCONNECT): the simplest reconnect storm.
            case drop
            /// Refuse new connections for the window with CONNACK 3 (server unavailable; 0x88 in MQTT 5).
            case outage
            /// Refuse every CONNECT for the window with CONNACK 5 / 0x87, as IoT Hub does for bad credentials.
            case rejectAuth = "reject-auth"
            /// Stop reading and writing for the window: connections stay open but silent (half-open links that
            /// only keep-alive can detect).
            case blackhole
            /// Hold every CONNACK for `delay` during the window.
            case slowConnack = "slow-connack"
            /// Hold every PUBACK for `delay` during the window (in order).
            case slowPuback = "slow-puback"

            /// True for faults that last a window.
            public var hasWindow: Bool { self != .drop }
        }
        /// Time from the run's start.
        public var at: Duration
        public var kind: Kind
        /// How long a windowed fault lasts.
        public var duration: Duration
        /// The added latency of slow-connack / slow-puback.
        public var delay: Duration

        public init(at: Duration, kind: Kind, duration: Duration = .zero, delay: Duration = .zero) {
            self.at = at
            self.kind = kind
            self.duration = duration
            self.delay = delay
        }
    }

    /// The embedded hub's IoT Hub tier throttles (reference §5).
    public struct Quota: Sendable, Hashable {
        public static let tiers = ["F1", "B1", "S1", "B2", "S2", "B3", "S3"]
        public var tier: String
        public var units: Int = 1
        /// Seconds of limit-rate traffic a burst may take before shaping starts.
        public var burstSeconds: Double = 60
        /// The longest a CONNACK/PUBACK is held before the request is rejected.
        public var maxShapingDelay: Duration = .seconds(30)

        public init(tier: String) { self.tier = tier }
    }

    public var name: String = "unnamed"
    public var description: String = ""
    /// Seed of every random draw in the run.
    public var seed: UInt64 = 1
    /// Hard bound on the run's length: devices still running then are stopped.
    public var duration: Duration = .seconds(300)
    public var hub: HubTarget = .embedded
    /// Throttles of the embedded hub (nil: unlimited).
    public var quota: Quota?
    public var fleet = Fleet()
    public var mqtt = MQTT()
    public var telemetry = Telemetry()
    public var retry = Retry()
    /// SAS authentication (nil: anonymous CONNECTs, for plain MQTT brokers).
    public var auth: DeviceAuth?
    /// Cohorts in device-index order (device counts add up to `fleet.devices`); empty: one cohort, `retry`.
    public var cohorts: [Cohort] = []

    /// The cohorts a run uses: the declared ones, or the whole fleet under `retry`.
    public var effectiveCohorts: [Cohort] {
        cohorts.isEmpty ? [Cohort(name: "all", devices: fleet.devices, retry: retry)] : cohorts
    }

    /// Scripted faults, in time order.
    public var faults: [Fault] = []

    public init() {}
}
