@testable import AnalyticsServer
import Logging
@testable import TestSupport
import XCTest

/// Reading settings from a variables dictionary: defaults, every kind of
/// value and every kind of error message.
final class SettingsTests: XCTestCase {
    /// Every integer setting with the range the design document gives it.
    static let integerSettings: [(name: String, property: KeyPath<Settings, Int>, range: ClosedRange<Int>)] = [
        ("PORT", \.port, 1...65535),
        ("HEARTBEAT_INTERVAL", \.heartbeatIntervalS, 1...3600),
        ("CLIENT_TIMEOUT_S", \.clientTimeoutS, 1...3600),
        ("PURGE_INTERVAL_S", \.purgeIntervalS, 1...604_800),
        ("LOG_EXPIRY_H", \.logExpiryH, 1...10_000_000),
        ("MAX_PENDING_CONNECTIONS", \.maxPendingConnections, 1...65535),
        ("WS_MAX_PAYLOAD", \.wsMaxPayload, 125...1_073_741_824),
        ("NUM_THREADS", \.numThreads, 1...256),
        ("DB_POOL_SIZE", \.dbPoolSize, 1...64),
        ("DB_QUERY_POOL_SIZE", \.dbQueryPoolSize, 1...64),
        ("DB_BATCH_SIZE", \.dbBatchSize, 1...100_000),
        ("DB_BATCH_BYTES", \.dbBatchBytes, (64 << 10)...(1 << 30)),
        ("DB_SAVE_LATENCY_MS", \.dbSaveLatencyMs, 1...60000),
        ("DB_MAX_BATCHES_IN_FLIGHT", \.dbMaxBatchesInFlight, 1...64),
        ("STATEMENT_TIMEOUT_MS", \.statementTimeoutMs, 100...3_600_000),
        ("API_MAX_QUEUED_REQUESTS", \.apiMaxQueuedRequests, 0...100_000),
        ("API_QUEUE_TIMEOUT_MS", \.apiQueueTimeoutMs, 1...3_600_000),
        ("MAX_BUFFERED_BYTES", \.maxBufferedBytes, 1_048_576...68_719_476_736),
        ("SPOOL_MAX_BYTES", \.spoolMaxBytes, 1_048_576...(1 << 50)),
        ("SHUTDOWN_TIMEOUT_S", \.shutdownTimeoutS, 1...3600),
        ("MAX_NODE_IDS_PER_CONNECTION", \.maxNodeIDsPerConnection, 1...1000),
        ("CACHE_UPDATE_TIMEOUT_S", \.cacheUpdateTimeoutS, 1...3600),
        ("CACHE_UPDATE_INTERVAL_MS", \.cacheUpdateIntervalMs, 1...3_600_000),
        ("CACHE_EXPIRY_S", \.cacheExpiryS, 1...2_592_000),
        ("NODE_ID_IDLE_S", \.nodeIDIdleS, 1...86_400),
        ("MAX_CONNECTIONS", \.maxConnections, 1...10_000_000),
        ("MAX_CONNECTIONS_PER_IP", \.maxConnectionsPerIP, 1...10_000_000),
        ("INGEST_MAX_BYTES_PER_S", \.ingestMaxBytesPerS, 1024...(1 << 40)),
        ("INGEST_RATE_WINDOW_S", \.ingestRateWindowS, 1...600),
        ("INGEST_BLOCK_S", \.ingestBlockS, 1...86_400),
        ("READ_REPLICA_MAX_LAG_S", \.readReplicaMaxLagS, 1...86_400),
        ("FEED_MAX_CLIENT_BACKLOG_BYTES", \.feedMaxClientBacklogBytes, 65536...1_073_741_824),
        ("NETWORK_STALE_S", \.networkStaleS, 1...86_400),
        ("NETWORK_PROPAGATION_WINDOW_S", \.networkPropagationWindowS, 1...3600),
        ("NETWORK_SERIES_STEP_S", \.networkSeriesStepS, 1...3600),
        ("NETWORK_HISTORY_EXPIRY_H", \.networkHistoryExpiryH, 1...10_000_000),
        ("NETWORK_METRICS_PER_NODE_MAX", \.networkMetricsPerNodeMax, 0...100_000),
    ]
    static let otherSettings = ["DATABASE_URL", "DATABASE_READ_URL", "HOST", "TRUST_PROXY_HEADERS", "ASSETS_PATH",
                                "MIGRATIONS_PATH", "EMBEDDED_PG_DIR", "LOG_LEVEL", "INGEST_ALLOW", "API_TOKEN", "NETWORK_STATE",
                                "SPOOL_DIR"]

    func testDefaultsAreTheDocumentedOnes() throws {
        let defaults = Settings.defaults
        XCTAssertNil(defaults.databaseURL)
        XCTAssertEqual(defaults.host, "0.0.0.0")
        XCTAssertEqual(defaults.port, 8080)
        XCTAssertEqual(defaults.heartbeatIntervalS, 5)
        XCTAssertEqual(defaults.clientTimeoutS, 10)
        XCTAssertEqual(defaults.purgeIntervalS, 600)
        XCTAssertEqual(defaults.logExpiryH, 280_320)
        XCTAssertEqual(defaults.maxPendingConnections, 8192)
        XCTAssertEqual(defaults.wsMaxPayload, 524_288)
        XCTAssertEqual(defaults.numThreads, 1)
        XCTAssertEqual(defaults.dbPoolSize, 2)
        XCTAssertEqual(defaults.dbQueryPoolSize, 2)
        XCTAssertEqual(defaults.dbBatchSize, 1024)
        XCTAssertEqual(defaults.dbSaveLatencyMs, 100)
        XCTAssertEqual(defaults.dbMaxBatchesInFlight, 4)
        XCTAssertEqual(defaults.statementTimeoutMs, 10_000)
        XCTAssertEqual(defaults.maxBufferedBytes, 268_435_456)
        XCTAssertEqual(defaults.shutdownTimeoutS, 30)
        XCTAssertNil(defaults.spoolDir)
        XCTAssertEqual(defaults.spoolMaxBytes, 10 << 30)
        XCTAssertEqual(defaults.maxNodeIDsPerConnection, 20)
        XCTAssertEqual(defaults.trustProxyHeaders, false)
        XCTAssertEqual(defaults.cacheUpdateTimeoutS, 15)
        XCTAssertEqual(defaults.cacheUpdateIntervalMs, 1000)
        XCTAssertEqual(defaults.cacheExpiryS, 3600)
        XCTAssertEqual(defaults.feedMaxClientBacklogBytes, 8 << 20)
        XCTAssertEqual(defaults.assetsPath, "./static")
        XCTAssertEqual(defaults.migrationsPath, "./Migrations")
        XCTAssertEqual(defaults.embeddedPGDir, "./.tetcore/pg")
        XCTAssertEqual(defaults.logLevel, .info)
        XCTAssertEqual(defaults.ingestAllow, .everyone)
        XCTAssertEqual(defaults.ingestMaxBytesPerS, 262_144)
        XCTAssertEqual(defaults.ingestBlockS, 60)
        XCTAssertEqual(defaults.networkState, true)
        XCTAssertEqual(defaults.networkStaleS, 120)
        XCTAssertEqual(defaults.networkPropagationWindowS, 300)
        XCTAssertEqual(defaults.networkSeriesStepS, 60)
        XCTAssertEqual(defaults.networkHistoryExpiryH, 8760, "a year, whatever LOG_EXPIRY_H is")
        XCTAssertEqual(defaults.networkMetricsPerNodeMax, 0)
        XCTAssertNil(defaults.databaseReadURL)
        XCTAssertEqual(defaults.readReplicaMaxLagS, 30)
        XCTAssertEqual(try load([:]), defaults, "no variables, no file: every default")
    }

    func testEverySettingHasOneRowAndEveryRowIsTested() {
        let names = SettingsTable.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "a variable appears twice")
        XCTAssertEqual(Set(names), Set(Self.integerSettings.map(\.name) + Self.otherSettings))
        XCTAssertEqual(Mirror(reflecting: Settings.defaults).children.count, names.count,
                       "every property of Settings has a row")
    }

    func testEveryIntegerSettingRejectsTextAndValuesOutsideItsRange() {
        for (name, _, range) in Self.integerSettings {
            let expected = "expected an integer from \(range.lowerBound) to \(range.upperBound)"
            XCTAssertEqual(loadError([name: "80a"]), "\(name)=\"80a\": \(expected)")
            XCTAssertEqual(loadError([name: String(range.lowerBound - 1)]), "\(name)=\"\(range.lowerBound - 1)\": \(expected)")
            XCTAssertEqual(loadError([name: String(range.upperBound + 1)]), "\(name)=\"\(range.upperBound + 1)\": \(expected)")
        }
    }

    func testEveryIntegerSettingAcceptsItsBoundsIntoItsProperty() throws {
        for (name, property, range) in Self.integerSettings {
            XCTAssertEqual(try load([name: String(range.lowerBound)])[keyPath: property], range.lowerBound, name)
            XCTAssertEqual(try load([name: String(range.upperBound)])[keyPath: property], range.upperBound, name)
        }
    }

    func testIntegerSyntax() throws {
        XCTAssertEqual(try load(["WS_MAX_PAYLOAD": "524_288"]).wsMaxPayload, 524_288)
        XCTAssertEqual(try load(["MAX_BUFFERED_BYTES": "1_073_741_824"]).maxBufferedBytes, 1 << 30)
        XCTAssertEqual(try load(["PORT": " 9000\t"]).port, 9000, "blanks around the number are ignored")
        XCTAssertEqual(try load(["PORT": "0080"]).port, 80)
        let expected = ": expected an integer from 1 to 65535"
        for bad in ["", "_80", "80_", "8__0", "+80", "-1", "8 0", "0x50", "80.0", "８０", "99999999999999999999999"] {
            XCTAssertEqual(loadError(["PORT": bad]), "PORT=\"\(bad)\"" + expected, bad)
        }
    }

    func testBooleans() throws {
        for (text, value) in [("true", true), ("TRUE", true), ("Yes", true), ("1", true),
                              ("false", false), ("False", false), ("NO", false), ("0", false)] {
            XCTAssertEqual(try load(["TRUST_PROXY_HEADERS": text]).trustProxyHeaders, value, text)
        }
        XCTAssertEqual(loadError(["TRUST_PROXY_HEADERS": "on"]),
                       "TRUST_PROXY_HEADERS=\"on\": expected true, false, yes, no, 1 or 0")
    }

    func testStringsAndHost() throws {
        let settings = try load(["ASSETS_PATH": "/srv/static dir", "MIGRATIONS_PATH": "m", "EMBEDDED_PG_DIR": "/var/pg",
                                 "HOST": "127.0.0.1"])
        XCTAssertEqual(settings.assetsPath, "/srv/static dir")
        XCTAssertEqual(settings.migrationsPath, "m")
        XCTAssertEqual(settings.embeddedPGDir, "/var/pg")
        XCTAssertEqual(settings.host, "127.0.0.1")
        XCTAssertEqual(try load(["HOST": "::"]).host, "::")
        XCTAssertEqual(loadError(["ASSETS_PATH": ""]), "ASSETS_PATH=\"\": expected a non-empty path")
        XCTAssertEqual(loadError(["HOST": "localhost"]),
                       "HOST=\"localhost\": expected an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or ::")
        XCTAssertEqual(loadError(["HOST": "10.0.0.256"]),
                       "HOST=\"10.0.0.256\": expected an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or ::")
    }

    func testErrorMessagesStayOnOneLine() {
        XCTAssertEqual(loadError(["TRUST_PROXY_HEADERS": "ye\ns\t\"\\\u{7}"]),
                       #"TRUST_PROXY_HEADERS="ye\ns\t\"\\\u{7}": expected true, false, yes, no, 1 or 0"#)
        let long = String(repeating: "9", count: 500)
        XCTAssertEqual(loadError(["PORT": long]),
                       "PORT=\"\(String(repeating: "9", count: 120))…\": expected an integer from 1 to 65535")
    }

    func testDatabaseURL() throws {
        XCTAssertEqual(try load(["DATABASE_URL": "postgres://a:b@db/x"]).databaseURL, "postgres://a:b@db/x")
        XCTAssertEqual(try load(["DATABASE_URL": "host=db dbname=x"]).databaseURL, "host=db dbname=x")
        XCTAssertEqual(loadError(["DATABASE_URL": "mysql://root:hunter2@db/x"]),
                       "DATABASE_URL=\"mysql://root:***@db/x\": expected a postgres:// or postgresql:// URL or a libpq key=value conninfo",
                       "the rejected value is quoted with its password masked")
        XCTAssertEqual(loadError(["DATABASE_URL": ""]),
                       "DATABASE_URL=\"\": expected a postgres:// or postgresql:// URL or a libpq key=value conninfo")
        let standbys = "postgres://r:pw@10.0.0.2,10.0.0.3/x?target_session_attrs=prefer-standby"
        XCTAssertEqual(try load(["DATABASE_READ_URL": standbys]).databaseReadURL, standbys)
        XCTAssertEqual(loadError(["DATABASE_READ_URL": "mysql://r:pw@db/x"]),
                       "DATABASE_READ_URL=\"mysql://r:***@db/x\": expected a postgres:// or postgresql:// URL or a libpq key=value conninfo")
    }

    func testLogLevelAndRustLog() throws {
        XCTAssertEqual(try load(["LOG_LEVEL": "notice"]).logLevel, .notice)
        XCTAssertEqual(try load(["LOG_LEVEL": "CRITICAL"]).logLevel, .critical)
        XCTAssertEqual(try load(["LOG_LEVEL": "warn"]).logLevel, .warning)
        XCTAssertEqual(try load(["RUST_LOG": "debug"]).logLevel, .debug)
        XCTAssertEqual(try load(["RUST_LOG": "tetcore_analytics=trace,actix_web=info"]).logLevel, .trace)
        XCTAssertEqual(try load(["LOG_LEVEL": "error", "RUST_LOG": "debug"]).logLevel, .error, "LOG_LEVEL wins")
        XCTAssertEqual(try load(["LOG_LEVEL": "error", "RUST_LOG": "nonsense=x"]).logLevel, .error,
                       "RUST_LOG is not read when LOG_LEVEL is set")
        XCTAssertEqual(loadError(["LOG_LEVEL": "verbose", "RUST_LOG": "debug"]),
                       "LOG_LEVEL=\"verbose\": expected trace, debug, info, notice, warning, error or critical")
        XCTAssertEqual(loadError(["RUST_LOG": "actix_web=debug"]),
                       "RUST_LOG=\"actix_web=debug\": expected a level (error, warn, info, debug, trace) or env_logger "
                           + "directives that give tetcore_analytics or everything a level, such as "
                           + "tetcore_analytics=debug,actix_web=info")
    }

    func testEffectiveSettingsAreInTableOrderWithThePasswordMasked() throws {
        let settings = try load(["DATABASE_URL": "postgresql://analytics:s3cret@db:5432/telemetry", "PORT": "9090"])
        let description = settings.effectiveSettingsDescription()
        XCTAssertEqual(description.map(\.name), SettingsTable.all.map(\.name))
        let values = Dictionary(uniqueKeysWithValues: description.map { ($0.name, $0.value) })
        XCTAssertEqual(values["DATABASE_URL"], "postgresql://analytics:***@db:5432/telemetry")
        XCTAssertEqual(values["PORT"], "9090")
        XCTAssertEqual(values["MAX_BUFFERED_BYTES"], "268435456")
        XCTAssertEqual(values["TRUST_PROXY_HEADERS"], "false")
        XCTAssertEqual(values["LOG_LEVEL"], "info")
        let conninfo = try load(["DATABASE_URL": "host=db user=analytics password='s3 cret' dbname=telemetry"])
        XCTAssertEqual(conninfo.effectiveSettingsDescription().first?.value,
                       "host=db user=analytics password=*** dbname=telemetry")
        XCTAssertEqual(Settings.defaults.effectiveSettingsDescription().first?.value, "unset")
    }

    func testHelpTextDescribesEverySettingWithin78Columns() {
        let help = Settings.helpText()
        for row in SettingsTable.all {
            XCTAssertTrue(help.contains("  \(row.name) (default: "), row.name)
        }
        XCTAssertTrue(help.contains("RUST_LOG"))
        for line in help.split(separator: "\n") {
            XCTAssertLessThanOrEqual(line.count, 78, String(line))
        }
        XCTAssertTrue(help.contains("""
              PORT (default: 8080)
                  TCP port for node telemetry, the JSON API and /metrics. Allowed: an
                  integer from 1 to 65535.
            """))
        XCTAssertTrue(help.contains("  DATABASE_URL (default: unset)\n"))
    }

    func testMarkdownTableHasOneRowPerSetting() {
        let lines = Settings.markdownTable().split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, SettingsTable.all.count + 2)
        XCTAssertEqual(lines[0], "| Variable | Default | Meaning |")
        XCTAssertEqual(lines[1], "|---|---|---|")
        for (line, row) in zip(lines.dropFirst(2), SettingsTable.all) {
            XCTAssertTrue(line.hasPrefix("| `\(row.name)` | \(row.defaultText) | "), String(line))
            XCTAssertEqual(line.filter { $0 == "|" }.count, 4, "three cells: \(line)")
        }
        XCTAssertTrue(lines.contains("| `PORT` | 8080 | TCP port for node telemetry, the JSON API and /metrics. "
            + "Allowed: an integer from 1 to 65535. |"))
    }

    /// The settings table in docs/settings.md is this table, so the two
    /// cannot drift apart; on a failure, paste the table printed here into
    /// docs/settings.md.
    func testDocsListEverySettingAsTheServerDoes() throws {
        let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/settings.md")
        let text = try String(contentsOf: page, encoding: .utf8)
        let table = Settings.markdownTable()
        XCTAssertTrue(text.contains(table), "docs/settings.md's settings table differs; it should be:\n\(table)")
    }

    func testSpoolDirIsOffWhenUnsetOrEmpty() throws {
        XCTAssertEqual(try load(["SPOOL_DIR": "/var/spool/tetcore"]).spoolDir, "/var/spool/tetcore")
        XCTAssertNil(try load(["SPOOL_DIR": ""]).spoolDir)
        XCTAssertNil(try load([:]).spoolDir)
    }

    func testIngestAllowTakesNetworksAndNamesABadOne() throws {
        let settings = try load(["INGEST_ALLOW": "10.0.0.0/8,2001:db8::/32"])
        XCTAssertTrue(settings.ingestAllow.allows("10.1.1.1"))
        XCTAssertFalse(settings.ingestAllow.allows("11.1.1.1"))
        let error = try XCTUnwrap(loadError(["INGEST_ALLOW": "10.0.0.0/40"]))
        XCTAssertTrue(error.contains("INGEST_ALLOW"), error)
    }

    private func load(_ environment: [String: String]) throws -> Settings {
        try Settings.load(environment: environment, dotEnvPath: nil)
    }

    private func loadError(_ environment: [String: String]) -> String? {
        do {
            _ = try load(environment)
            return nil
        } catch {
            return (error as? ConfigError)?.description ?? "not a ConfigError: \(error)"
        }
    }
}
