// swift-tools-version: 6.0
// FleetStorm: an IoT fleet load generator with an embedded Azure IoT Hub emulator.
// Layering (see docs/ARCHITECTURE.md): FleetMQTT, FleetAMQP -> FleetCore -> FleetMetrics -> FleetHubCore
// -> FleetEngine/FleetHub/FleetSim -> FleetReport -> FleetService -> CLI.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

/// The per-message path is one loop's and never shared: the recorders (`Recorder`), the device handlers and machines,
/// the codec. Release builds of those targets skip the runtime exclusivity check on class properties, NIO's
/// `ByteBuffer` storage inlined into them included (about 4 % of FleetSim's time per event; about a tenth of the device
/// loop's user-space time per QoS 1 message, where every buffer write paid one); debug builds, which the tests use,
/// keep it.
let hotPath: [SwiftSetting] =
    strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "FleetStorm",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fleetstorm", targets: ["fleetstorm"]),
        .executable(name: "fleetstorm-fuzz", targets: ["FleetFuzzer"]),
        .library(name: "FleetMQTT", targets: ["FleetMQTT"]),
        .library(name: "FleetAMQP", targets: ["FleetAMQP"]),
        .library(name: "FleetCore", targets: ["FleetCore"]),
        .library(name: "FleetMetrics", targets: ["FleetMetrics"]),
        .library(name: "FleetEngine", targets: ["FleetEngine"]),
        .library(name: "FleetHubCore", targets: ["FleetHubCore"]),
        .library(name: "FleetHub", targets: ["FleetHub"]),
        .library(name: "FleetReport", targets: ["FleetReport"]),
        .library(name: "FleetTesting", targets: ["FleetTesting"]),
        .library(name: "FleetService", targets: ["FleetService"]),
        .library(name: "FleetSim", targets: ["FleetSim"]),
        .library(name: "FleetFuzz", targets: ["FleetFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // zlib from the system (Debian: zlib1g-dev), for HdrHistogram's compressed V2 encoding.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // The system's OpenSSL (Debian: libssl-dev) for TLS, the devices' and the hub's (FleetTLS).
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "FleetTLS",
            dependencies: [
                "COpenSSL", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // A prefetch hint for FleetSim's event loop (a header only: nothing to link).
        .systemLibrary(name: "CPrefetch"),
        .target(
            name: "FleetMQTT",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: hotPath
        ),
        // AMQP 1.0 frames, performatives, SASL and messages as values, and a codec for both directions.
        .target(
            name: "FleetAMQP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .target(
            name: "FleetCore",
            dependencies: [
                "FleetMQTT", "FleetAMQP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                // HMAC-SHA256 for SAS tokens, on the same libcrypto as TLS.
                "COpenSSL",
            ],
            swiftSettings: hotPath
        ),
        .target(
            name: "FleetMetrics",
            dependencies: ["FleetCore", "CZlib", .product(name: "Histogram", package: "hdrhistogram-swift")],
            swiftSettings: hotPath
        ),
        .target(
            name: "FleetWebSocket",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "FleetEngine",
            dependencies: [
                "FleetMQTT", "FleetCore", "FleetMetrics", "FleetWebSocket", "FleetTLS",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: hotPath
        ),
        // The test hub's rules as pure values: the per-connection session, authentication, throttles, quota, faults,
        // C2D queues, twins and counters. Every front of FleetHub and FleetSim's hub run them; no sockets, no clocks.
        .target(
            name: "FleetHubCore",
            dependencies: [
                "FleetMQTT", "FleetAMQP", "FleetCore", "FleetMetrics", .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "FleetHub",
            dependencies: [
                "FleetMQTT", "FleetCore", "FleetMetrics", "FleetWebSocket", "FleetHubCore", "FleetTLS",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "FleetTelemetry",
            dependencies: [
                "FleetEngine", "FleetMetrics",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "FleetReport",
            dependencies: [
                "FleetCore", "FleetMetrics",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Proto"],
            swiftSettings: strict
        ),
        // One entry point per command (run, hub): the embedded hub wired to the engine, reports built; the CLI only
        // parses flags and prints.
        // FleetSim: the same device state machines in virtual time, against a model of the test hub (no sockets).
        .target(
            name: "FleetSim",
            dependencies: [
                "FleetMQTT", "FleetCore", "FleetMetrics", "FleetHubCore", "CPrefetch",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "FleetService",
            dependencies: [
                "FleetCore", "FleetMetrics", "FleetEngine", "FleetHub", "FleetHubCore", "FleetReport", "FleetSim",
            ],
            swiftSettings: strict
        ),
        .target(
            name: "FleetTesting",
            dependencies: [
                "FleetMQTT", "FleetCore", "FleetMetrics", "FleetHubCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The fuzz harnesses: one per decoder of outside bytes. `swift test` replays their corpora; `Fuzz/` (its own
        // package) links them into a libFuzzer binary.
        .target(
            name: "FleetFuzz",
            dependencies: [
                "FleetMQTT", "FleetAMQP", "FleetCore", "FleetHub", "FleetHubCore", "FleetReport", "FleetService",
                "FleetTLS", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FleetFuzzer",
            dependencies: ["FleetFuzz"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "fleetstorm",
            dependencies: [
                "FleetMQTT", "FleetCore", "FleetMetrics", "FleetEngine", "FleetHub", "FleetHubCore", "FleetReport",
                "FleetTelemetry",
                "FleetService", "FleetSim",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FleetMQTTTests",
            dependencies: ["FleetMQTT", "FleetTesting", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "FleetAMQPTests",
            dependencies: ["FleetAMQP", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "FleetCoreTests",
            dependencies: [
                "FleetCore", "FleetMQTT", "FleetAMQP", "FleetMetrics", "FleetTesting", "FleetHubCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FleetTLSTests",
            dependencies: [
                "FleetTLS", "FleetHub", "FleetCore", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FleetMetricsTests",
            dependencies: ["FleetMetrics", "FleetCore", "FleetTesting"]
        ),
        .testTarget(
            name: "FleetReportTests",
            dependencies: [
                "FleetReport", "FleetMetrics", "FleetCore", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(
            name: "FleetSimTests",
            dependencies: ["FleetSim", "FleetCore", "FleetMetrics", "FleetService", "FleetReport"]
        ),
        .testTarget(
            name: "FleetIntegrationTests",
            dependencies: [
                "FleetEngine", "FleetHub", "FleetHubCore", "FleetCore", "FleetMetrics", "FleetReport", "FleetMQTT",
                "FleetAMQP", "FleetTesting",
                "FleetService", "FleetSim", "FleetFuzz",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            exclude: ["Clients"]
        ),
    ]
)
