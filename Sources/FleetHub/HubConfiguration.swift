public import FleetCore
public import FleetHubCore

/// How the test hub listens and what it tolerates. Defaults in one place.
public struct HubConfiguration: Sendable {
    /// Addresses to listen on. Port 0 picks a free port below 32768.
    public var listen: [(host: String, port: Int)] = [("127.0.0.1", 0)]
    /// MQTT over TLS listeners (need `tls`).
    public var tlsListen: [(host: String, port: Int)] = []
    /// MQTT over WebSockets listeners (`ws://`, and `wss://` with `tls`), at `webSocketPath` with subprotocol `mqtt`.
    public var wsListen: [(host: String, port: Int)] = []
    public var wssListen: [(host: String, port: Int)] = []
    /// HTTPS device API listeners (need `tls`; reference §10.2).
    public var httpsListen: [(host: String, port: Int)] = []
    /// AMQP 1.0 listeners: `amqp://` (plain) and `amqps://` (need `tls`; IoT Hub's port is 5671; reference §11).
    public var amqpListen: [(host: String, port: Int)] = []
    public var amqpsListen: [(host: String, port: Int)] = []
    /// The plain and TLS MQTT listeners serve AMQP 1.0 too, told apart by the first byte (`HubFront.mqttOrAMQP`):
    /// the embedded hub of a run whose cohorts mix the two transports.
    public var mqttListenersServeAMQP = false
    /// The path a WebSocket upgrade must ask for (IoT Hub's).
    public var webSocketPath = Scenario.HubTarget.iotHubWebSocketPath
    /// The server certificate and key for the TLS listeners.
    public var tls: HubTLS?
    /// A connection that sends no CONNECT within this time is closed.
    public var connectTimeout: Duration = .seconds(10)
    /// Largest packet accepted from a client.
    public var maxPacketSize: Int = 256 * 1024 + 16 * 1024
    /// Idle connections are closed after this multiple of their keep-alive (IoT Hub: 1.5).
    public var idleFactor: Double = 1.5
    /// Who may connect (default: anyone, no credentials checked).
    public var auth = HubAuthenticator()
    /// IoT Hub tier throttles (nil: unlimited).
    public var quotas: HubQuotas?
    /// Hub processes sharing the listen address (`fleetstorm hub --workers N`): each enforces 1/N of the tier's
    /// rates, burst and daily quota and of a throttle fault's rates (`HubCore.parts`).
    public var workers = 1
    /// IoT Hub's topic rules and the PINGREQ allowance.
    public var rules = HubRules()
    /// A client that stops reading: the hub keeps at most this many bytes for it past the high-water mark, and
    /// closes it when it stays unwritable this long.
    public var maxBacklogBytes = 1 << 20
    public var slowConsumerTimeout: Duration = .seconds(10)
    /// Set SO_REUSEPORT on the listeners, so several hub processes (`fleetstorm hub --workers N`) listen on the same
    /// port and the kernel spreads new connections over them.
    public var reusePort = false
    /// SO_SNDBUF for client connections (nil: the kernel's autotuned default).
    public var socketSendBuffer: Int?
    /// Bin width of the hub's time series.
    public var seriesBin: Duration = .milliseconds(100)
    /// Send one C2D message to every known device this often (nil: no C2D traffic).
    public var cloudToDeviceInterval: Duration?
    /// Keeps the first telemetry messages and each device's last (`hub --sample FILE`); nil: nothing is kept.
    public var sample: MessageSample?
    /// Called (on the hub's loop: keep it short) for every refused CONNECT with the reason and one line that says
    /// why and what to change (`HubAuthenticator.explain`). Never carries a token or a key.
    public var onRefusal: (@Sendable (_ reason: String, _ explanation: String) -> Void)?

    public init() {}

    /// The hub a scenario's devices expect (what `run` embeds, and `hub --profile` serves): it checks exactly the
    /// credentials they present, enforces the scenario's tier, sends its C2D messages, bins its series alike.
    public init(scenario: Scenario) {
        self.init()
        auth = HubAuthenticator(matching: scenario.auth)
        quotas = HubQuotas(scenario.quota)
        cloudToDeviceInterval = scenario.c2dInterval
        seriesBin = scenario.bin
    }
}

/// Why the hub could not start.
public struct HubError: Error, Sendable, CustomStringConvertible {
    public var address: String
    public var reason: String

    public init(address: String, reason: String) {
        self.address = address
        self.reason = reason
    }

    public var description: String { "cannot listen on \(address): \(reason)" }
}
