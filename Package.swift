// swift-tools-version:6.0
import PackageDescription

// The target list is the architecture (docs/architecture.md draws it). Each
// layer is a module, so the compiler keeps the boundaries; a layer sees only
// what the ones below it declare `package`:
//
//   tetcore-analytics ─► AnalyticsServer ─► WebServer ─┬─► Reactor ─► CLibUV
//                              │    └──► PostgresClient ┘
//                              └──► EmbeddedPostgres, CSupport, NetworkModel
//   tetcore-loadgen ─► LoadGenerator ─► Reactor, PostgresClient, CSupport
//
// C libraries from Debian are system-library targets (Sources/C*); the C hot
// path is CSupport/.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]
let legacy: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "tetcore-analytics",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tetcore-analytics", targets: ["tetcore-analytics"]),
        .executable(name: "tetcore-loadgen", targets: ["tetcore-loadgen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // /metrics: registry and text exposition; brings apple/swift-metrics (CoreMetrics) 2.13.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        // Debian's http-parser ships no .pc file; the module map links it by name.
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "CSupport",
            dependencies: ["CJansson"],
            path: "CSupport",
            exclude: ["fuzz"],
            cSettings: [.unsafeFlags(["-O2"])],
            // yajl (Debian's libyajl-dev, no module map needed: only C
            // includes it) validates every message without building a tree.
            linkerSettings: [.linkedLibrary("crypto"), .linkedLibrary("yajl")]
        ),

        // libuv loops and handles: TCP, timers, signals, polls, mailboxes.
        .target(name: "Reactor", dependencies: ["CLibUV"], swiftSettings: strict),
        // libpq driven by a Reactor loop: connections, pipelines, pools, statement queues.
        .target(
            name: "PostgresClient",
            dependencies: ["Reactor", "CLibPQ", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // A private PostgreSQL cluster run by the server when DATABASE_URL is unset.
        .target(
            name: "EmbeddedPostgres",
            dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // What the network is doing, from what nodes report: node and chain
        // state, block propagation, fleet composition. Pure values, no I/O.
        .target(name: "NetworkModel", swiftSettings: strict),
        // HTTP/1.1 and WebSocket (RFC 6455) on the Reactor; knows nothing of telemetry.
        .target(
            name: "WebServer",
            dependencies: ["Reactor", "CSupport", "CHTTPParser", .product(name: "Logging", package: "swift-log")],
            swiftSettings: legacy
        ),
        // The application: ingestion, storage jobs, API, feed, metrics, settings, lifecycle.
        .target(
            name: "AnalyticsServer",
            dependencies: [
                "Reactor", "PostgresClient", "EmbeddedPostgres", "WebServer", "CSupport", "CMalloc", "NetworkModel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: legacy
        ),
        .executableTarget(
            name: "tetcore-analytics",
            dependencies: [
                "AnalyticsServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: legacy
        ),
        // Synthetic nodes for load tests, on the same Reactor and PostgresClient
        // (for --verify) as the server, and nothing of the server itself.
        .target(
            name: "LoadGenerator",
            dependencies: [
                "Reactor", "PostgresClient", "CSupport", "CJansson",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: legacy
        ),
        .executableTarget(
            name: "tetcore-loadgen",
            dependencies: [
                "LoadGenerator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: legacy
        ),

        // Test helpers shared by the test targets: the private test database,
        // server and generator processes, raw sockets, loop runners.
        .target(
            name: "TestSupport",
            dependencies: ["Reactor", "PostgresClient", "CLibPQ", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport",
            swiftSettings: legacy
        ),
        .testTarget(name: "CSupportTests", dependencies: ["CSupport", "CJansson"], swiftSettings: legacy),
        .testTarget(name: "NetworkModelTests", dependencies: ["NetworkModel"], swiftSettings: strict),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "TestSupport"], swiftSettings: legacy),
        .testTarget(
            name: "PostgresClientTests",
            dependencies: ["PostgresClient", "Reactor", "TestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: legacy
        ),
        .testTarget(
            name: "EmbeddedPostgresTests",
            dependencies: ["EmbeddedPostgres", "TestSupport", "CLibPQ", .product(name: "Logging", package: "swift-log")],
            swiftSettings: legacy
        ),
        .testTarget(
            name: "WebServerTests",
            dependencies: ["WebServer", "Reactor", "CSupport", "TestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: legacy
        ),
        .testTarget(
            name: "AnalyticsServerTests",
            dependencies: [
                "AnalyticsServer", "NetworkModel", "WebServer", "PostgresClient", "Reactor", "CSupport", "CLibPQ", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // Read by the tests from the source tree, not bundled.
            exclude: ["API/schemathesis.toml", "API/openapi_check.py"],
            swiftSettings: legacy
        ),
        .testTarget(name: "LoadGeneratorTests", dependencies: ["LoadGenerator", "CSupport", "TestSupport"], swiftSettings: legacy),
    ]
)
