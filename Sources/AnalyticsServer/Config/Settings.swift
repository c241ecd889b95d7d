// Config: every setting of the server, declared once.
//
// The table below drives parsing (environment, then a .env file), the
// --help text, the start-up log of effective values and the README table.
// A bad value stops the server with a one-line error; nothing falls back
// to a default silently.
import Foundation
import Logging

public struct Settings: Equatable {
    public var databaseURL: String?
    public var host = "0.0.0.0"
    public var port = 8080
    public var heartbeatIntervalS = 5
    public var clientTimeoutS = 10
    public var purgeIntervalS = 600
    public var logExpiryH = 280_320
    public var maxPendingConnections = 8192
    public var wsMaxPayload = 524_288
    public var numThreads = 1
    public var dbPoolSize = 2
    public var dbQueryPoolSize = 2
    public var dbBatchSize = 1024
    public var dbSaveLatencyMs = 100
    public var dbMaxBatchesInFlight = 4
    public var statementTimeoutMs = 10_000
    public var maxBufferedBytes = 256 * 1024 * 1024
    public var shutdownTimeoutS = 30
    public var maxNodeIDsPerConnection = 20
    public var trustProxyHeaders = false
    public var cacheUpdateTimeoutS = 15
    public var cacheUpdateIntervalMs = 1000
    public var cacheExpiryS = 3600
    public var assetsPath = "./static"
    public var migrationsPath = "./Migrations"
    public var embeddedPGDir = "./.tetcore/pg"
    public var logLevel: Logger.Level = .info

    public static let defaults = Settings()

    /// Reads the environment and `.env` (the environment wins).
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment,
                            dotEnvPath: String? = ".env") throws -> Settings {
        var values = try dotEnvPath.map(DotEnv.read) ?? [:]
        values.merge(environment) { _, fromEnvironment in fromEnvironment }
        var settings = Settings()
        for setting in Setting.all {
            if let raw = values[setting.name] { try setting.apply(raw, &settings) }
        }
        // LOG_LEVEL is the project's name; RUST_LOG keeps working for people
        // coming from the original, and LOG_LEVEL wins when both are set.
        if values["LOG_LEVEL"] == nil, let rust = values["RUST_LOG"] {
            settings.logLevel = try RustLogFilter.level(from: rust)
        }
        return settings
    }

    /// Name and value of every setting, the database password masked.
    public func effectiveSettingsDescription() -> [(name: String, value: String)] {
        Setting.all.map { ($0.name, $0.render(self)) }
    }

    public static func helpText() -> String {
        Setting.all.map { setting in
            let meaning = wrap(setting.meaning, width: 72).joined(separator: "\n" + String(repeating: " ", count: 8))
            return "  \(setting.name) (default: \(setting.defaultText))\n        \(meaning)"
        }.joined(separator: "\n")
    }

    public static func markdownTable() -> String {
        var lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
        for setting in Setting.all {
            lines.append("| `\(setting.name)` | `\(setting.defaultText)` | \(setting.meaning) |")
        }
        return lines.joined(separator: "\n")
    }

    private static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + word.count + 1 > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}

/// A value that cannot be used; its description is the one line printed.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
