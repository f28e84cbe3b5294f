// swift-tools-version: 6.0
// The least an MQTT server on SwiftNIO can do, for scripts/bench-hub-vs-mosquitto.sh: the floor under the test hub's
// per-connection and per-message cost (same NIO version, same channel options as the hub, no rules, no counting).
import PackageDescription

let package = Package(
    name: "nio-floor",
    dependencies: [.package(url: "https://github.com/apple/swift-nio", from: "2.101.3")],
    targets: [
        .executableTarget(
            name: "nio-floor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        )
    ]
)
