import Foundation
import Logging

/// The effective configuration. Properties take their defaults from the
/// table; see `SettingsTable` for each one's variable and meaning.
package struct Settings: Equatable, Sendable {
    package var databaseURL: String? = SettingsTable.databaseURL.defaultValue
    package var databaseReadURL: String? = SettingsTable.databaseReadURL.defaultValue
    package var readReplicaMaxLagS: Int = SettingsTable.readReplicaMaxLagS.defaultValue
    package var host: String = SettingsTable.host.defaultValue
    package var port: Int = SettingsTable.port.defaultValue
    package var heartbeatIntervalS: Int = SettingsTable.heartbeatIntervalS.defaultValue
    package var clientTimeoutS: Int = SettingsTable.clientTimeoutS.defaultValue
    package var purgeIntervalS: Int = SettingsTable.purgeIntervalS.defaultValue
    package var logExpiryH: Int = SettingsTable.logExpiryH.defaultValue
    package var maxPendingConnections: Int = SettingsTable.maxPendingConnections.defaultValue
    package var wsMaxPayload: Int = SettingsTable.wsMaxPayload.defaultValue
    package var numThreads: Int = SettingsTable.numThreads.defaultValue
    package var dbPoolSize: Int = SettingsTable.dbPoolSize.defaultValue
    package var dbQueryPoolSize: Int = SettingsTable.dbQueryPoolSize.defaultValue
    package var dbBatchSize: Int = SettingsTable.dbBatchSize.defaultValue
    package var dbBatchBytes: Int = SettingsTable.dbBatchBytes.defaultValue
    package var dbSaveLatencyMs: Int = SettingsTable.dbSaveLatencyMs.defaultValue
    package var dbMaxBatchesInFlight: Int = SettingsTable.dbMaxBatchesInFlight.defaultValue
    package var statementTimeoutMs: Int = SettingsTable.statementTimeoutMs.defaultValue
    package var apiMaxQueuedRequests: Int = SettingsTable.apiMaxQueuedRequests.defaultValue
    package var apiQueueTimeoutMs: Int = SettingsTable.apiQueueTimeoutMs.defaultValue
    package var maxBufferedBytes: Int = SettingsTable.maxBufferedBytes.defaultValue
    package var spoolDir: String? = SettingsTable.spoolDir.defaultValue
    package var spoolMaxBytes: Int = SettingsTable.spoolMaxBytes.defaultValue
    package var shutdownTimeoutS: Int = SettingsTable.shutdownTimeoutS.defaultValue
    package var maxNodeIDsPerConnection: Int = SettingsTable.maxNodeIDsPerConnection.defaultValue
    package var trustProxyHeaders: Bool = SettingsTable.trustProxyHeaders.defaultValue
    package var apiToken: String? = SettingsTable.apiToken.defaultValue
    package var nodeIDIdleS: Int = SettingsTable.nodeIDIdleS.defaultValue
    package var ingestAllow: NetworkAllowlist = SettingsTable.ingestAllow.defaultValue
    package var maxConnections: Int = SettingsTable.maxConnections.defaultValue
    package var maxConnectionsPerIP: Int = SettingsTable.maxConnectionsPerIP.defaultValue
    package var ingestMaxBytesPerS: Int = SettingsTable.ingestMaxBytesPerS.defaultValue
    package var ingestRateWindowS: Int = SettingsTable.ingestRateWindowS.defaultValue
    package var ingestBlockS: Int = SettingsTable.ingestBlockS.defaultValue
    package var cacheUpdateTimeoutS: Int = SettingsTable.cacheUpdateTimeoutS.defaultValue
    package var cacheUpdateIntervalMs: Int = SettingsTable.cacheUpdateIntervalMs.defaultValue
    package var cacheExpiryS: Int = SettingsTable.cacheExpiryS.defaultValue
    package var feedMaxClientBacklogBytes: Int = SettingsTable.feedMaxClientBacklogBytes.defaultValue
    package var networkState: Bool = SettingsTable.networkState.defaultValue
    package var networkStaleS: Int = SettingsTable.networkStaleS.defaultValue
    package var networkPropagationWindowS: Int = SettingsTable.networkPropagationWindowS.defaultValue
    package var networkSeriesStepS: Int = SettingsTable.networkSeriesStepS.defaultValue
    package var networkHistoryExpiryH: Int = SettingsTable.networkHistoryExpiryH.defaultValue
    package var networkMetricsPerNodeMax: Int = SettingsTable.networkMetricsPerNodeMax.defaultValue
    package var assetsPath: String = SettingsTable.assetsPath.defaultValue
    package var migrationsPath: String = SettingsTable.migrationsPath.defaultValue
    package var embeddedPGDir: String = SettingsTable.embeddedPGDir.defaultValue
    package var logLevel: Logger.Level = SettingsTable.logLevel.defaultValue

    package static let defaults = Settings()

    /// Reads every setting from `environment` and from the `.env` file at
    /// `dotEnvPath` (nil: no file; a missing file is fine). A variable set
    /// in the environment wins over the file.
    package static func load(environment: [String: String] = ProcessInfo.processInfo.environment,
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
    package func effectiveSettingsDescription() -> [(name: String, value: String)] {
        SettingsTable.all.map { ($0.name, $0.effectiveText(of: self)) }
    }
}
