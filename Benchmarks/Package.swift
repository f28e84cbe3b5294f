// swift-tools-version: 6.1
// Micro-benchmarks (package-benchmark). A separate package so the main one never builds benchmark dependencies.
// Run: cd Benchmarks && swift package --disable-sandbox benchmark
// The root package is named explicitly, so the checkout folder's name does not matter.
import PackageDescription

let package = Package(
    name: "FleetStormBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "FleetStorm", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "FleetBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FleetMQTT", package: "FleetStorm"),
                .product(name: "FleetAMQP", package: "FleetStorm"),
                .product(name: "FleetCore", package: "FleetStorm"),
                .product(name: "FleetMetrics", package: "FleetStorm"),
                .product(name: "FleetHubCore", package: "FleetStorm"),
                .product(name: "FleetSim", package: "FleetStorm"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/FleetBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
