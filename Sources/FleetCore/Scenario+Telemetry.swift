public import FleetMQTT

extension Scenario {
    public struct Telemetry: Sendable, Hashable {
        /// Messages per device; the device disconnects cleanly once all are acknowledged (unless `stayConnected`).
        public var messages: Int = 10
        /// Time between a device's messages (intended send times are on this grid). Zero: closed loop, the next
        /// message goes as soon as the in-flight window has room (QoS 1 only).
        public var interval: Duration = .seconds(1)
        /// After its last message is acknowledged the device stays connected (keep-alive only) until the run ends.
        public var stayConnected = false
        public var payloadBytes: Int = 64
        public var qos: MQTTQoS = .atLeastOnce
        /// Application properties sent in the topic's property bag (`devices/{id}/messages/events/k=v&...`).
        public var properties: [String: String] = [:]
        /// The message's content type and encoding system properties (`$.ct`, `$.ce`; IoT Hub routes on the body
        /// only when they say `application/json` and `utf-8`): in the property bag over MQTT, the
        /// `iothub-contenttype` / `iothub-contentencoding` headers over HTTPS, the properties section over AMQP.
        public var contentType: String?
        public var contentEncoding: String?
        /// A body written per message (`telemetry.template` or `template_file`); nil: `payloadBytes` of filler.
        public var template: PayloadTemplate?
        /// `telemetry.mix`: message kinds drawn by weight per message (empty: every message alike).
        public var mix: [MessageKind] = []
        /// How long a device waits for the acknowledgements of its last messages before giving up on them.
        public var drainTimeout: Duration = .seconds(30)
        /// Messages a device keeps while it cannot send (disconnected, or its in-flight window is full).
        public var queueCapacity: Int = 1000
        public var queueOverflow: QueueOverflow = .dropOldest
        /// Unacknowledged QoS 1 messages at once per device; more wait in the queue.
        public var maxInflight: Int = 64
        public init() {}
    }

    /// One kind of message in a mix: its share of a device's messages, its body and its QoS.
    public struct MessageKind: Sendable, Hashable {
        /// Names it in the report (per-kind counts and latency).
        public var name: String
        /// Relative weight: a message is of this kind with probability weight / (sum of the mix's weights).
        public var weight: Double
        /// Its own body (nil: `payloadBytes`, else the telemetry section's template or filler).
        public var template: PayloadTemplate?
        public var payloadBytes: Int?
        /// Its own QoS (nil: `telemetry.qos`).
        public var qos: MQTTQoS?

        public init(name: String, weight: Double) {
            self.name = name
            self.weight = weight
        }
    }

    /// The mix cohort `cohort`'s devices send (empty: every message alike).
    public func mix(of cohort: Cohort?) -> [MessageKind] { cohort?.mix ?? telemetry.mix }
}
