// Config: the server's settings.
//
// Every setting is a row of `SettingsTable` (variable, default, parser with
// its range, meaning). That one table drives reading the environment and
// the `.env` file, the --help text, the start-up log of effective values
// and the README's table. A value that does not parse stops the server
// with a one-line `ConfigError`; nothing falls back to a default silently.
// This folder calls nothing else in the server.
import Foundation
import Logging

/// The effective configuration. Properties take their defaults from the
/// table; see `SettingsTable` for each one's variable and meaning.
public struct Settings: Equatable, Sendable {
    public var databaseURL: String? = SettingsTable.databaseURL.defaultValue
    public var host: String = SettingsTable.host.defaultValue
    public var port: Int = SettingsTable.port.defaultValue
    public var heartbeatIntervalS: Int = SettingsTable.heartbeatIntervalS.defaultValue
    public var clientTimeoutS: Int = SettingsTable.clientTimeoutS.defaultValue
    public var purgeIntervalS: Int = SettingsTable.purgeIntervalS.defaultValue
    public var logExpiryH: Int = SettingsTable.logExpiryH.defaultValue
    public var maxPendingConnections: Int = SettingsTable.maxPendingConnections.defaultValue
    public var wsMaxPayload: Int = SettingsTable.wsMaxPayload.defaultValue
    public var numThreads: Int = SettingsTable.numThreads.defaultValue
    public var dbPoolSize: Int = SettingsTable.dbPoolSize.defaultValue
    public var dbQueryPoolSize: Int = SettingsTable.dbQueryPoolSize.defaultValue
    public var dbBatchSize: Int = SettingsTable.dbBatchSize.defaultValue
    public var dbBatchBytes: Int = SettingsTable.dbBatchBytes.defaultValue
    public var dbSaveLatencyMs: Int = SettingsTable.dbSaveLatencyMs.defaultValue
    public var dbMaxBatchesInFlight: Int = SettingsTable.dbMaxBatchesInFlight.defaultValue
    public var statementTimeoutMs: Int = SettingsTable.statementTimeoutMs.defaultValue
    public var maxBufferedBytes: Int = SettingsTable.maxBufferedBytes.defaultValue
    public var shutdownTimeoutS: Int = SettingsTable.shutdownTimeoutS.defaultValue
    public var maxNodeIDsPerConnection: Int = SettingsTable.maxNodeIDsPerConnection.defaultValue
    public var trustProxyHeaders: Bool = SettingsTable.trustProxyHeaders.defaultValue
    public var apiToken: String? = SettingsTable.apiToken.defaultValue
    public var nodeIDIdleS: Int = SettingsTable.nodeIDIdleS.defaultValue
    public var ingestAllow: NetworkAllowlist = SettingsTable.ingestAllow.defaultValue
    public var maxConnections: Int = SettingsTable.maxConnections.defaultValue
    public var maxConnectionsPerIP: Int = SettingsTable.maxConnectionsPerIP.defaultValue
    public var ingestMaxBytesPerS: Int = SettingsTable.ingestMaxBytesPerS.defaultValue
    public var ingestRateWindowS: Int = SettingsTable.ingestRateWindowS.defaultValue
    public var ingestBlockS: Int = SettingsTable.ingestBlockS.defaultValue
    public var cacheUpdateTimeoutS: Int = SettingsTable.cacheUpdateTimeoutS.defaultValue
    public var cacheUpdateIntervalMs: Int = SettingsTable.cacheUpdateIntervalMs.defaultValue
    public var cacheExpiryS: Int = SettingsTable.cacheExpiryS.defaultValue
    public var feedMaxClientBacklogBytes: Int = SettingsTable.feedMaxClientBacklogBytes.defaultValue
    public var assetsPath: String = SettingsTable.assetsPath.defaultValue
    public var migrationsPath: String = SettingsTable.migrationsPath.defaultValue
    public var embeddedPGDir: String = SettingsTable.embeddedPGDir.defaultValue
    public var logLevel: Logger.Level = SettingsTable.logLevel.defaultValue

    public static let defaults = Settings()

    /// Reads every setting from `environment` and from the `.env` file at
    /// `dotEnvPath` (nil: no file; a missing file is fine). A variable set
    /// in the environment wins over the file.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment,
                            dotEnvPath: String? = ".env") throws -> Settings {
        var variables = try dotEnvPath.map { try DotEnv.read(path: $0) } ?? [:]
        variables.merge(environment) { _, fromEnvironment in fromEnvironment }
        var settings = Settings()
        for row in SettingsTable.all {
            try row.apply(variables, to: &settings)
        }
        return settings
    }

    /// Every setting's name and value in table order, for the start-up log;
    /// the database password is shown as `***`.
    public func effectiveSettingsDescription() -> [(name: String, value: String)] {
        SettingsTable.all.map { ($0.name, $0.effectiveText(of: self)) }
    }
}
