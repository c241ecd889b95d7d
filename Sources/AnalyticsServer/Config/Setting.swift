import Logging

/// One configuration variable: its name, meaning, how it parses and where
/// it goes in `Settings`.
struct Setting {
    let name: String
    let meaning: String
    let defaultText: String
    let apply: (String, inout Settings) throws -> Void
    let render: (Settings) -> String

    static func integer(_ name: String, _ path: WritableKeyPath<Settings, Int>, _ range: ClosedRange<Int>,
                        _ meaning: String) -> Setting {
        Setting(name: name, meaning: meaning, defaultText: String(Settings.defaults[keyPath: path]),
                apply: { raw, settings in
                    let digits = raw.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
                    guard let value = Int(digits), range.contains(value) else {
                        throw ConfigError("\(name)=\"\(raw)\": expected an integer from \(range.lowerBound) to \(range.upperBound)")
                    }
                    settings[keyPath: path] = value
                },
                render: { String($0[keyPath: path]) })
    }

    static func string(_ name: String, _ path: WritableKeyPath<Settings, String>, _ meaning: String) -> Setting {
        Setting(name: name, meaning: meaning, defaultText: Settings.defaults[keyPath: path],
                apply: { raw, settings in
                    guard !raw.isEmpty else { throw ConfigError("\(name)=\"\": expected a non-empty value") }
                    settings[keyPath: path] = raw
                },
                render: { $0[keyPath: path] })
    }

    static func boolean(_ name: String, _ path: WritableKeyPath<Settings, Bool>, _ meaning: String) -> Setting {
        Setting(name: name, meaning: meaning, defaultText: String(Settings.defaults[keyPath: path]),
                apply: { raw, settings in
                    switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
                    case "true", "1", "yes": settings[keyPath: path] = true
                    case "false", "0", "no": settings[keyPath: path] = false
                    default: throw ConfigError("\(name)=\"\(raw)\": expected true or false")
                    }
                },
                render: { String($0[keyPath: path]) })
    }

    static let all: [Setting] = [
        Setting(name: "DATABASE_URL",
                meaning: "PostgreSQL to store telemetry in (postgres:// URL or libpq key=value). Unset: the server runs an embedded PostgreSQL in EMBEDDED_PG_DIR.",
                defaultText: "unset",
                apply: { raw, settings in
                    let value = raw.trimmingCharacters(in: .whitespaces)
                    guard value.hasPrefix("postgres://") || value.hasPrefix("postgresql://") || value.contains("=") else {
                        throw ConfigError("DATABASE_URL=\"\(DatabaseURL.masked(raw))\": expected a postgres:// URL or a libpq key=value conninfo")
                    }
                    settings.databaseURL = value
                },
                render: { $0.databaseURL.map(DatabaseURL.masked) ?? "unset (embedded PostgreSQL)" }),
        .string("HOST", \.host, "Address to listen on."),
        .integer("PORT", \.port, 1...65535, "TCP port for telemetry, the API, /metrics and dashboards."),
        .integer("HEARTBEAT_INTERVAL", \.heartbeatIntervalS, 1...3600, "Seconds between WebSocket pings the server sends."),
        .integer("CLIENT_TIMEOUT_S", \.clientTimeoutS, 1...3600,
                 "A connection silent this many seconds is closed (also the deadline for a complete HTTP request head)."),
        .integer("PURGE_INTERVAL_S", \.purgeIntervalS, 1...604_800, "Seconds between purges of expired telemetry."),
        .integer("LOG_EXPIRY_H", \.logExpiryH, 1...10_000_000, "Hours telemetry from `/` is kept; `/audit` telemetry never expires."),
        .integer("MAX_PENDING_CONNECTIONS", \.maxPendingConnections, 1...65535, "Listen backlog."),
        .integer("WS_MAX_PAYLOAD", \.wsMaxPayload, 125...(1 << 30), "Largest WebSocket message in bytes; larger ones close the connection with 1009."),
        .integer("NUM_THREADS", \.numThreads, 1...1,
                 "Event-loop threads. The original's CPUs x 3 sized a pool of blocking database threads; this server's loop never blocks, so one loop per core is the most that helps. This release runs one loop."),
        .integer("DB_POOL_SIZE", \.dbPoolSize, 1...64, "PostgreSQL connections for ingestion writes, each pipelined with several batches in flight."),
        .integer("DB_QUERY_POOL_SIZE", \.dbQueryPoolSize, 1...64, "PostgreSQL connections for API queries and purge, so they never queue behind ingestion."),
        .integer("DB_BATCH_SIZE", \.dbBatchSize, 1...100_000, "Rows per insert statement."),
        .integer("DB_SAVE_LATENCY_MS", \.dbSaveLatencyMs, 1...60_000, "Longest a row waits before its batch is written."),
        .integer("DB_MAX_BATCHES_IN_FLIGHT", \.dbMaxBatchesInFlight, 1...64, "Batches in flight per write connection (pipeline depth)."),
        .integer("STATEMENT_TIMEOUT_MS", \.statementTimeoutMs, 100...3_600_000, "Statement timeout of API queries."),
        .integer("MAX_BUFFERED_BYTES", \.maxBufferedBytes, (1 << 20)...(1 << 36),
                 "Telemetry held in memory until committed; above it node sockets are not read until the backlog drains."),
        .integer("SHUTDOWN_TIMEOUT_S", \.shutdownTimeoutS, 1...3600, "Longest a shutdown waits to write buffered rows."),
        .integer("MAX_NODE_IDS_PER_CONNECTION", \.maxNodeIDsPerConnection, 1...1000,
                 "Distinct node ids one connection may use in the wrapped message form; messages of further ids are rejected."),
        .boolean("TRUST_PROXY_HEADERS", \.trustProxyHeaders,
                 "Take a node's address from Forwarded / X-Forwarded-For (only behind a proxy you trust)."),
        .integer("CACHE_UPDATE_TIMEOUT_S", \.cacheUpdateTimeoutS, 1...3600, "Feed cache: warn when a refresh takes longer; abandon it at 4x."),
        .integer("CACHE_UPDATE_INTERVAL_MS", \.cacheUpdateIntervalMs, 10...3_600_000, "Feed cache: milliseconds between refreshes."),
        .integer("CACHE_EXPIRY_S", \.cacheExpiryS, 1...86400 * 30, "Feed cache: seconds of messages kept per subscription."),
        .string("ASSETS_PATH", \.assetsPath, "Directory of the dashboards served under /dashboard/."),
        .string("MIGRATIONS_PATH", \.migrationsPath, "Directory of the SQL migrations."),
        .string("EMBEDDED_PG_DIR", \.embeddedPGDir, "Data directory of the embedded PostgreSQL (used when DATABASE_URL is unset)."),
        Setting(name: "LOG_LEVEL", meaning: "trace, debug, info, notice, warning, error or critical. RUST_LOG (error, warn, info, debug, trace or env_logger directives) is read when LOG_LEVEL is unset.",
                defaultText: "info",
                apply: { raw, settings in
                    guard let level = Logger.Level(rawValue: raw.trimmingCharacters(in: .whitespaces).lowercased()) else {
                        throw ConfigError("LOG_LEVEL=\"\(raw)\": expected trace, debug, info, notice, warning, error or critical")
                    }
                    settings.logLevel = level
                },
                render: { $0.logLevel.rawValue }),
    ]
}
