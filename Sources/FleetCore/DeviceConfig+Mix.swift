public import FleetMQTT
public import NIOCore

extension DeviceConfig {
    /// One kind of a cohort's message mix, ready to send: when a message is of it, its QoS and body.
    public struct MessageKind: Sendable {
        public var name: String
        /// A message whose kind draw is below this (and above the previous kind's) is of this kind; the last kind's
        /// is `UInt64.max`.
        public var threshold: UInt64
        public var qos: MQTTQoS
        /// The body: the template (for this cohort), else `payload`.
        public var template: PayloadTemplate?
        public var payload: ByteBuffer
        public var bodyCapacity: Int

        /// The mix's kinds with thresholds from their weights; each takes the telemetry section's template or filler
        /// unless it has its own.
        static func kinds(
            _ mix: [Scenario.MessageKind],
            scenario: Scenario,
            cohortName: String,
            template: PayloadTemplate?,
            payload: ByteBuffer,
            bodyCapacity: Int
        ) -> [MessageKind] {
            let total = mix.reduce(0.0) { $0 + $1.weight }
            var cumulative = 0.0
            return mix.enumerated().map { i, kind in
                cumulative += kind.weight
                let threshold =
                    i == mix.count - 1
                    ? UInt64.max : UInt64(exactly: (cumulative / total * 0x1p64).rounded(.down)) ?? .max
                var out = MessageKind(
                    name: kind.name,
                    threshold: threshold,
                    qos: kind.qos ?? scenario.telemetry.qos,
                    template: template,
                    payload: payload,
                    bodyCapacity: bodyCapacity
                )
                if let own = kind.template {
                    out.template = own.forCohort(cohortName, messages: scenario.telemetry.messages)
                    out.bodyCapacity = own.maxBytes(
                        deviceIDBytes: scenario.fleet.longestDeviceID,
                        cohortBytes: cohortName.utf8.count,
                        messages: scenario.telemetry.messages
                    )
                } else if let bytes = kind.payloadBytes {
                    out.template = nil
                    out.payload = DeviceConfig.filler(bytes)
                    out.bodyCapacity = bytes
                }
                return out
            }
        }
    }
}
