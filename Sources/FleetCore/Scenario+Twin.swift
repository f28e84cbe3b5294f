extension Scenario {
    /// `twin:` — what devices do with their device twin over MQTT (IoT Hub's twin topics, reference §4.3; the hub
    /// meters them against its twin read and update throttles, §5.1).
    public struct Twin: Sendable, Hashable {
        /// GET the whole twin after every accepted CONNACK (what an application with a desired-property handler does
        /// each time its device connects).
        public var getOnConnect = false
        /// A reported-properties PATCH every this long, on a grid from the first connection (zero: none).
        public var reportInterval: Duration = .zero
        /// Bytes of the reported-properties document (JSON; IoT Hub allows 32 KB of reported properties).
        public var reportBytes = 64
        /// How long an operation may take, retries after 429 and 5xx included, before the device gives it up
        /// (.NET's twin timeout and the C SDK's GET timeout are 60 s, reference §4.7).
        public var timeout: Duration = .seconds(60)

        public var isEnabled: Bool { getOnConnect || reportInterval > .zero }

        public init() {}
    }
}
