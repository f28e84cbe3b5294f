extension Scenario {
    /// AMQP connection pooling (reference §11.1: the .NET SDK carries up to 995 devices on one connection, one
    /// session each): `amqp.devices_per_connection` and `amqp.pool_size`.
    public struct AMQPPool: Sendable, Hashable {
        /// The .NET SDK's limit (IoT Hub allows 999 tokens per connection).
        public static let maxDevicesPerConnection = 995
        /// The most devices one connection carries; 1 is a connection per device (no pooling).
        public var devicesPerConnection = 1
        /// Connections in the cohort's pool; nil: as few as hold the cohort at `devicesPerConnection` each.
        public var poolSize: Int?

        public init(devicesPerConnection: Int = 1, poolSize: Int? = nil) {
            self.devicesPerConnection = devicesPerConnection
            self.poolSize = poolSize
        }

        public var isPooled: Bool { devicesPerConnection > 1 }

        /// The connections a cohort of `devices` uses; device `j` of the cohort rides connection `j % count` (an
        /// even spread, as .NET's pool spreads devices by a hash of their ids).
        public func connections(devices: Int) -> Int {
            max(1, poolSize ?? (devices + devicesPerConnection - 1) / max(1, devicesPerConnection))
        }
    }
}

extension Scenario {
    /// Network connections the fleet opens at most at once: a device each, except pooled AMQP cohorts, whose devices
    /// share their pool's connections.
    public var networkConnections: Int {
        effectiveCohorts.reduce(0) { total, cohort in
            total
                + (cohort.amqp && cohort.amqpPool.isPooled
                    ? cohort.amqpPool.connections(devices: cohort.devices) : cohort.devices)
        }
    }

    /// Some cohorts speak MQTT and others AMQP (the embedded hub serves both on one port).
    public var mixesTransports: Bool {
        let cohorts = effectiveCohorts
        return cohorts.contains { $0.amqp } && cohorts.contains { !$0.amqp }
    }

    /// Any device speaks AMQP.
    public var anyAMQP: Bool { effectiveCohorts.contains { $0.amqp } }
}
