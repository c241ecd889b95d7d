// swift-tools-version:6.0
import PackageDescription

// The folder list is the architecture: C libraries from Debian wrapped as
// system-library targets, the C hot path in CSupport/, the server in
// Sources/AnalyticsServer/ (one folder per concern), thin executables on top.
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
        .target(
            name: "AnalyticsServer",
            dependencies: [
                "CSupport", "CLibUV", "CLibPQ", "CHTTPParser", "CMalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "tetcore-analytics",
            dependencies: [
                "AnalyticsServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Synthetic nodes for load tests: the server's Reactor (libuv) and
        // Storage (libpq, for --verify) reused through AnalyticsServer's
        // public API rather than a second set of wrappers.
        .target(
            name: "LoadGenerator",
            dependencies: [
                "AnalyticsServer", "CSupport", "CJansson",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "tetcore-loadgen",
            dependencies: [
                "LoadGenerator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "LoadGeneratorTests",
            dependencies: ["LoadGenerator", "CSupport"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "CSupportTests",
            dependencies: ["CSupport", "CJansson"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "AnalyticsServerTests",
            dependencies: ["AnalyticsServer", "CSupport", "CLibUV", "CLibPQ", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
    ]
)
