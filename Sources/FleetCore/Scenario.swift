public import FleetMQTT

/// A validated fleet profile: everything a run needs, with defaults kept in one place (`Scenario.Defaults`).
public struct Scenario: Sendable, Hashable {
    /// Where devices connect.
    public struct HubTarget: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Kind: Hashable, Sendable {
            case embedded
            case mqtt(host: String, port: Int, tls: Bool)
        }
        fileprivate var kind: Kind
        /// MQTT over WebSockets at this path (IoT Hub's is `/$iothub/websocket`); nil: MQTT straight over TCP/TLS.
        public var webSocketPath: String?

        /// Devices use IoT Hub's HTTPS device API (POST telemetry, poll C2D; reference §10.2) instead of MQTT.
        public var https = false
        /// Devices speak AMQP 1.0 (reference §11) instead of MQTT: `amqp://` and `amqps://` URLs.
        public var amqp = false

        /// IoT Hub's WebSocket path.
        public static let iotHubWebSocketPath = "/$iothub/websocket"

        public static let embedded = HubTarget(kind: .embedded)
        public static func mqtt(host: String, port: Int, tls: Bool = false) -> HubTarget {
            HubTarget(kind: .mqtt(host: host, port: port, tls: tls))
        }

        /// nil for the embedded hub.
        public var hostAndPort: (host: String, port: Int)? {
            if case .mqtt(let h, let p, _) = kind { return (h, p) }
            return nil
        }

        public var isEmbedded: Bool { kind == .embedded }

        /// True for `mqtts://` targets (MQTT over TLS).
        public var usesTLS: Bool {
            if case .mqtt(_, _, true) = kind { return true }
            return false
        }

        public var description: String {
            switch kind {
            case .embedded: "embedded"
            case .mqtt(let h, let p, _) where https:
                "https://\(h.contains(":") ? "[\(h)]" : h):\(p)"
            case .mqtt(let h, let p, let tls) where amqp && webSocketPath != nil:
                "amqp+\(tls ? "wss" : "ws")://\(h.contains(":") ? "[\(h)]" : h):\(p)\(webSocketPath ?? "")"
            case .mqtt(let h, let p, let tls) where amqp:
                "\(tls ? "amqps" : "amqp")://\(h.contains(":") ? "[\(h)]" : h):\(p)"
            case .mqtt(let h, let p, let tls):
                webSocketPath == nil
                    ? "\(tls ? "mqtts" : "mqtt")://\(h.contains(":") ? "[\(h)]" : h):\(p)"
                    : "\(tls ? "wss" : "ws")://\(h.contains(":") ? "[\(h)]" : h):\(p)\(webSocketPath ?? "")"
            }
        }

        /// Parses `embedded`, `mqtt[s]://HOST:PORT`, `ws[s]://HOST[:PORT][/PATH]`, `https://HOST[:PORT]` or
        /// `amqp[s]://HOST[:PORT]`, `amqp+ws[s]://HOST[:PORT][/PATH]` (`[::1]` for IPv6); nil for anything else.
        public static func parse(_ text: String) -> HubTarget? {
            if text == "embedded" { return .embedded }
            // amqp+ws://… and amqp+wss://HOST[:PORT][/PATH]: AMQP 1.0 over WebSockets (as ws:// and wss://).
            if text.hasPrefix("amqp+ws://") || text.hasPrefix("amqp+wss://"),
                var target = parse(String(text.dropFirst(5)))
            {
                target.amqp = true
                return target
            }
            // amqp://HOST[:PORT] and amqps://…: AMQP 1.0 (default port 5672 / 5671, IoT Hub's AMQPS port).
            for (scheme, tls, defaultPort) in [("amqp://", false, 5672), ("amqps://", true, 5671)]
            where text.hasPrefix(scheme) {
                var authority = text.dropFirst(scheme.count)
                if authority.hasSuffix("/") { authority.removeLast() }
                guard !authority.contains("/") else { return nil }
                let hasPort = authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
                let full = "\(tls ? "mqtts" : "mqtt")://\(authority)\(hasPort ? "" : ":\(defaultPort)")"
                guard var target = parse(full) else { return nil }
                target.amqp = true
                return target
            }
            // https://HOST[:PORT][/]: the HTTPS device API (default port 443).
            if text.hasPrefix("https://") {
                var authority = text.dropFirst("https://".count)
                if authority.hasSuffix("/") { authority.removeLast() }
                guard !authority.contains("/") else { return nil }
                let hasPort = authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
                guard var target = parse("mqtts://\(authority)\(hasPort ? "" : ":443")") else { return nil }
                target.https = true
                return target
            }
            // ws://HOST[:PORT][/PATH] and wss://…: MQTT over WebSockets (default port 80 / 443, IoT Hub's path).
            for (scheme, tls, defaultPort) in [("ws://", false, 80), ("wss://", true, 443)] where text.hasPrefix(scheme)
            {
                let rest = text.dropFirst(scheme.count)
                let slash = rest.firstIndex(of: "/") ?? rest.endIndex
                let authority = rest[..<slash]
                let path = rest[slash...].isEmpty ? iotHubWebSocketPath : String(rest[slash...])
                let hasPort = authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
                let full = "\(tls ? "mqtts" : "mqtt")://\(authority)\(hasPort ? "" : ":\(defaultPort)")"
                guard path.allSatisfy({ !$0.isWhitespace }), var target = parse(full) else { return nil }
                target.webSocketPath = path
                return target
            }
            let tls = text.hasPrefix("mqtts://")
            guard tls || text.hasPrefix("mqtt://") else { return nil }
            var rest = Substring(text.dropFirst(tls ? "mqtts://".count : "mqtt://".count))
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
            return .mqtt(host: String(host), port: port, tls: tls)
        }
    }

    /// TLS on the device side: which CA to trust and the name to verify (embedded hub: a certificate made for the
    /// run, trusted automatically).
    public struct TLS: Sendable, Hashable {
        /// PEM file of the CA that signed the hub's certificate (nil: the embedded hub's own).
        public var caFile: String?
        /// Host name to verify and send as SNI (nil: the URL's host).
        public var serverName: String?
        /// The CA in PEM text (the embedded hub's, made for the run; wins over `caFile`).
        public var caPEM: String?
        /// X.509 devices' certificates and keys by device id, made by the run for the embedded hub (not a profile
        /// key; `auth.certificates` names files, which the engine reads).
        public var deviceCertificates: [String: DeviceAuth.Certificate] = [:]

        public init(caFile: String? = nil, serverName: String? = nil, caPEM: String? = nil) {
            self.caFile = caFile
            self.serverName = serverName
            self.caPEM = caPEM
        }
    }

    /// How devices use the HTTPS device API (reference §10.2).
    public struct HTTPS: Sendable, Hashable {
        /// How often a device subscribed to C2D (`mqtt.subscribe_c2d`) asks for a message (GET). Default: the C
        /// SDK's minimum polling time, 25 min.
        public var pollInterval: Duration = .seconds(25 * 60)
        /// A request with no answer after this long ends the connection (a stalled or blackholed hub), as an HTTP
        /// client's timeout does. Default: .NET HttpClient's, 100 s.
        public var requestTimeout: Duration = .seconds(100)
        /// The `api-version` query parameter of every request.
        public var apiVersion = DeviceREST.defaultAPIVersion

        public init() {}
    }

    public struct Fleet: Sendable, Hashable {
        /// Number of simulated devices.
        public var devices: Int = 100
        /// Device ids are the prefix plus a zero-padded index (`device-00042`).
        public var idPrefix: String = "device-"
        /// New connection attempts per second during the ramp; 0 means as fast as the window allows.
        public var rampRate: Double = 500
        /// Connection attempts in flight at once (TCP connect to CONNACK); with `adaptiveWindow`, the most the
        /// window may grow to.
        public var maxInFlight: Int = 500
        /// `max_in_flight: auto`: the window adapts to how fast the hub accepts (`ConnectWindow`).
        public var adaptiveWindow = false
        /// `max_in_flight`'s largest value (the cap of an adaptive window).
        public static let largestWindow = 1_000_000
        /// Local addresses to spread connections over (127.x to pass the ephemeral port limit); empty lets the
        /// kernel choose.
        public var sourceAddresses: [String] = []
        /// Set by `Scenario.sharded`: which share of a bigger fleet these devices are (nil: the whole fleet).
        public var shard: Shard?
        /// Index of this process's first device in the whole fleet (0 unless sharded).
        public var firstIndex: Int = 0
        /// The whole fleet's size when sharded: ids are padded for it, so a device's id is the same in any shard.
        public var wholeFleetDevices: Int?

        public init() {}

        /// The id of device `index` of this process (0-based; its place in the whole fleet is `firstIndex + index`).
        public func deviceID(_ index: Int) -> String {
            let digits = Swift.max(5, String(Swift.max((wholeFleetDevices ?? devices) - 1, 0)).count)
            let n = String(firstIndex + index)
            return idPrefix + String(repeating: "0", count: Swift.max(0, digits - n.count)) + n
        }

        /// The byte length of the longest device id of the whole fleet.
        public var longestDeviceID: Int {
            idPrefix.utf8.count + Swift.max(5, String(Swift.max((wholeFleetDevices ?? devices) - 1, 0)).count)
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

    public struct Retry: Sendable, Hashable {
        /// Policy for transient failures (default: the .NET SDK's).
        public var policy: RetryPolicy = .preset("azure-dotnet")
        /// Policy for throttled failures (default: the .NET SDK's legacy throttling policy).
        public var throttled: RetryPolicy = .preset("azure-dotnet-throttled")
        public init() {}
    }

    /// A share of the fleet with its own SDK and retry curve.
    public struct Cohort: Sendable, Hashable {
        public var name: String
        public var devices: Int
        public var sdk: SDK
        public var retry: Retry
        /// How the cohort's AMQP devices share connections (no sharing unless a profile asks).
        public var amqpPool = AMQPPool()
        /// The cohort's devices speak AMQP 1.0 (else MQTT): the hub's transport unless the cohort names its own
        /// (`transport:`, with the embedded hub, which then serves both on one port).
        public var amqp = false
        /// The cohort's message mix (`cohorts[].mix`; nil: the profile's `telemetry.mix`).
        public var mix: [MessageKind]?

        public init(
            name: String,
            devices: Int,
            sdk: SDK = .dotnet,
            retry: Retry,
            amqpPool: AMQPPool = AMQPPool(),
            amqp: Bool = false
        ) {
            self.name = name
            self.devices = devices
            self.sdk = sdk
            self.retry = retry
            self.amqpPool = amqpPool
            self.amqp = amqp
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
        /// The daily message quota (nil: the tier's, reference §5.1).
        public var dailyMessages: UInt64?

        public init(tier: String) { self.tier = tier }
    }

    /// How `fleetstorm simulate` models what sockets and a hub process give a real run (ignored by `run`): the
    /// network round trip, the listener's accept capacity, and the hub's own answer times. Throttles, quotas and
    /// faults come from the rest of the profile, as in a real run.
    public struct Simulation: Sendable, Hashable {
        /// Round trip between a device and the hub; each way takes half.
        public var rtt: Duration = .milliseconds(1)
        /// Each one-way trip takes up to this much longer, uniformly at random.
        public var rttJitter: Duration = .zero
        /// New TCP connections the hub's listener accepts per second (0: as fast as they arrive).
        public var acceptRate: Double = 0
        /// Handshakes completed but not yet accepted that the listener holds; a SYN beyond it is dropped and the
        /// device's kernel sends it again after 1 s, 2 s, 4 s ... (Linux's SYN retransmission).
        public var acceptBacklog: Int = 4096
        /// The hub's own time to answer a CONNECT, and a PUBLISH (before throttles and faults add theirs).
        public var connackDelay: Duration = .zero
        public var pubackDelay: Duration = .zero
        /// Partitions simulated in parallel, one thread each (0: one below 100,000 devices, two from there). Each
        /// takes every P-th device and a 1/P share of the hub's capacity, so results differ slightly between counts.
        public var partitions: Int = 0

        public init() {}
    }

    /// A slow or lossy link between the devices and the hub (GSM, satellite), emulated in user space by a relay in
    /// the fleet's process (this kernel has no netem): every segment waits its turn on the shared link at `rate`,
    /// then `rtt`/2 plus up to `jitter`; a lost one arrives a retransmission timeout later, in order, as TCP
    /// recovers it. Applies to `run` and `netlab run`, not to `simulate` (which has its own `simulation.rtt`).
    public struct Link: Sendable, Hashable {
        public var rtt: Duration = .zero
        public var jitter: Duration = .zero
        /// Share of segments lost (each costs one retransmission timeout).
        public var loss: Double = 0
        /// Bits per second each way, shared by every device (nil: unlimited).
        public var bitsPerSecond: Double?

        public init() {}

        public var isIdeal: Bool { rtt == .zero && jitter == .zero && loss == 0 && bitsPerSecond == nil }

        /// `64kbit`, `2mbit`, `9600bit` (also `kbps`/`mbps`/`bps`) in bits per second.
        public static func parseRate(_ text: String) -> Double? {
            let t = text.lowercased().replacingOccurrences(of: " ", with: "")
            let units: [(String, Double)] = [
                ("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9), ("kbps", 1e3), ("mbps", 1e6), ("bit", 1), ("bps", 1),
            ]
            for (suffix, factor) in units where t.hasSuffix(suffix) {
                guard let v = Double(t.dropLast(suffix.count)), v > 0 else { return nil }
                return v * factor
            }
            return nil
        }
    }

    /// The devices' link to the hub (nil: what the network gives).
    public var link: Link?

    public var name: String = "unnamed"
    public var description: String = ""
    public var simulation = Simulation()
    /// The SDK the devices imitate (cohorts may name their own). Default: the .NET SDK.
    public var sdk: SDK = .dotnet
    /// Seed of every random draw in the run.
    public var seed: UInt64 = 1
    /// Bin width of the report's time series (1 ms … 10 s).
    public var bin: Duration = .milliseconds(100)
    /// Hard bound on the run's length: devices still running then are stopped.
    public var duration: Duration = .seconds(300)
    public var hub: HubTarget = .embedded
    /// Devices connect over TLS (set by an `mqtts://` URL, or `hub.tls: true` for the embedded hub).
    public var tls: TLS?
    /// The HTTPS device API's settings (used when `hub.https`).
    public var https = HTTPS()
    /// The embedded hub sends every device one C2D message this often (nil: none).
    public var c2dInterval: Duration?
    /// Place the TCP fault proxy between the devices and an external broker, so faults work against it.
    public var faultProxy = false
    /// The hub at `hub.url` is `fleetstorm hub --profile` serving this profile (hub workers, or the hub of shards):
    /// it plays the faults, tier and C2D itself; the run only marks the faults' start times for its storm records.
    public var hubServesProfile = false
    /// Throttles of the embedded hub (nil: unlimited).
    public var quota: Quota?
    public var fleet = Fleet()
    public var mqtt = MQTT()
    public var telemetry = Telemetry()
    public var twin = Twin()
    public var retry = Retry()
    /// SAS authentication (nil: anonymous CONNECTs, for plain MQTT brokers).
    public var auth: DeviceAuth?
    /// Cohorts in device-index order (device counts add up to `fleet.devices`); empty: one cohort, `retry`.
    public var cohorts: [Cohort] = []
    /// The profile's `amqp:` pooling, which cohorts without their own inherit.
    public var amqpPool = AMQPPool()

    /// The cohorts a run uses: the declared ones, or the whole fleet under `retry`.
    public var effectiveCohorts: [Cohort] {
        cohorts.isEmpty
            ? [Cohort(name: "all", devices: fleet.devices, sdk: sdk, retry: retry, amqpPool: amqpPool, amqp: hub.amqp)]
            : cohorts
    }

    /// Scripted faults, in time order.
    public var faults: [Fault] = []

    public init() {}
}
