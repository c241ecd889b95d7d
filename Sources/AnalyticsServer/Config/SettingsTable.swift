import Logging

/// Every setting of the server, each declared once: variable, default,
/// parser (with its range) and one-line meaning. `all` orders them for
/// --help, docs/settings.md and the start-up log.
enum SettingsTable {
    static let all: [any SettingRow] = [
        databaseURL, databaseReadURL, readReplicaMaxLagS, host, port, heartbeatIntervalS, clientTimeoutS, purgeIntervalS, logExpiryH,
        maxPendingConnections, wsMaxPayload, numThreads, dbPoolSize, dbQueryPoolSize, dbBatchSize, dbBatchBytes,
        dbSaveLatencyMs, dbMaxBatchesInFlight, statementTimeoutMs, apiMaxQueuedRequests, apiQueueTimeoutMs, maxBufferedBytes,
        spoolDir, spoolMaxBytes, shutdownTimeoutS,
        maxNodeIDsPerConnection, nodeIDIdleS, trustProxyHeaders, apiToken, ingestAllow, maxConnections, maxConnectionsPerIP,
        ingestMaxBytesPerS, ingestRateWindowS, ingestBlockS, cacheUpdateTimeoutS, cacheUpdateIntervalMs, cacheExpiryS,
        feedMaxClientBacklogBytes, networkState, networkStaleS, networkPropagationWindowS, networkSeriesStepS, networkHistoryExpiryH,
        networkMetricsPerNodeMax,
        assetsPath, migrationsPath, embeddedPGDir, logLevel,
    ]

    static let databaseURL = Setting(
        name: "DATABASE_URL", defaultValue: nil, parser: .databaseURL, property: \.databaseURL,
        meaning: "PostgreSQL to store telemetry in. Unset: the server starts its own PostgreSQL in EMBEDDED_PG_DIR.")
    static let databaseReadURL = Setting(
        name: "DATABASE_READ_URL", defaultValue: nil, parser: .databaseURL, property: \.databaseReadURL,
        meaning: "Hot standby for API queries and feed refreshes, or several in a multi-host URL with target_session_attrs=standby "
            + "or prefer-standby. Unset: they go to DATABASE_URL. Writes, migrations and the purge always go to DATABASE_URL.")
    static let readReplicaMaxLagS = Setting(
        name: "READ_REPLICA_MAX_LAG_S", defaultValue: 30, parser: .integer(1...86_400), property: \.readReplicaMaxLagS,
        meaning: "While DATABASE_READ_URL is further behind the primary than this many seconds, or its lag cannot be measured, "
            + "reads go to DATABASE_URL instead and /readyz reports the read replica degraded (still 200).")
    static let host = Setting(
        name: "HOST", defaultValue: "0.0.0.0", parser: .ipAddress, property: \.host,
        meaning: "Address to listen on.")
    static let port = Setting(
        name: "PORT", defaultValue: 8080, parser: .integer(1...65535), property: \.port,
        meaning: "TCP port for node telemetry, the JSON API and /metrics.")
    static let heartbeatIntervalS = Setting(
        name: "HEARTBEAT_INTERVAL", defaultValue: 5, parser: .integer(1...3600), property: \.heartbeatIntervalS,
        meaning: "Seconds between the WebSocket pings the server sends.")
    static let clientTimeoutS = Setting(
        name: "CLIENT_TIMEOUT_S", defaultValue: 10, parser: .integer(1...3600), property: \.clientTimeoutS,
        meaning: "A connection that completes no request head or WebSocket frame for this many seconds, or takes none of the bytes sent to it for as long, is closed.")
    static let purgeIntervalS = Setting(
        name: "PURGE_INTERVAL_S", defaultValue: 600, parser: .integer(1...86400 * 7), property: \.purgeIntervalS,
        meaning: "Seconds between purges of expired telemetry.")
    static let logExpiryH = Setting(
        name: "LOG_EXPIRY_H", defaultValue: 280_320, parser: .integer(1...10_000_000), property: \.logExpiryH,
        meaning: "Hours that telemetry sent to / is kept; telemetry sent to /audit never expires.")
    static let maxPendingConnections = Setting(
        name: "MAX_PENDING_CONNECTIONS", defaultValue: 8192, parser: .integer(1...65535),
        property: \.maxPendingConnections,
        meaning: "Listen backlog: connections the kernel queues before the server accepts them.")
    static let wsMaxPayload = Setting(
        name: "WS_MAX_PAYLOAD", defaultValue: 524_288, parser: .integer(125...(1 << 30)), property: \.wsMaxPayload,
        meaning: "Largest WebSocket message in bytes; a larger one closes the connection.")
    static let numThreads = Setting(
        name: "NUM_THREADS", defaultValue: 1, parser: .integer(1...256), property: \.numThreads,
        meaning: "Event loops, each on its own thread, sharing the port (SO_REUSEPORT) and splitting DB_POOL_SIZE and "
            + "DB_QUERY_POOL_SIZE between them (at least one connection each); more loops than cores only add context switches.")
    static let dbPoolSize = Setting(
        name: "DB_POOL_SIZE", defaultValue: 2, parser: .integer(1...64), property: \.dbPoolSize,
        meaning: "PostgreSQL connections for ingestion writes, each pipelined with several batches in flight.")
    static let dbQueryPoolSize = Setting(
        name: "DB_QUERY_POOL_SIZE", defaultValue: 2, parser: .integer(1...64), property: \.dbQueryPoolSize,
        meaning: "PostgreSQL connections for API queries, so that queries never queue behind ingestion.")
    static let dbBatchSize = Setting(
        name: "DB_BATCH_SIZE", defaultValue: 1024, parser: .integer(1...100_000), property: \.dbBatchSize,
        meaning: "Most rows written in one batch.")
    static let dbBatchBytes = Setting(
        name: "DB_BATCH_BYTES", defaultValue: 4 << 20, parser: .integer((64 << 10)...(1 << 30)), property: \.dbBatchBytes,
        meaning: "Most bytes of one batch as held and sent (the messages' JSON plus about 30 bytes a row): large messages "
            + "(system.network_state) go in smaller batches, several in flight at once.")
    static let dbSaveLatencyMs = Setting(
        name: "DB_SAVE_LATENCY_MS", defaultValue: 100, parser: .integer(1...60_000), property: \.dbSaveLatencyMs,
        meaning: "Longest a row waits, in milliseconds, before its batch is written even if not full.")
    static let dbMaxBatchesInFlight = Setting(
        name: "DB_MAX_BATCHES_IN_FLIGHT", defaultValue: 4, parser: .integer(1...64), property: \.dbMaxBatchesInFlight,
        meaning: "Batches sent but not yet committed on one write connection (pipeline depth).")
    static let statementTimeoutMs = Setting(
        name: "STATEMENT_TIMEOUT_MS", defaultValue: 10_000, parser: .integer(100...3_600_000),
        property: \.statementTimeoutMs,
        meaning: "Milliseconds an API query may run before PostgreSQL cancels it.")
    static let apiMaxQueuedRequests = Setting(
        name: "API_MAX_QUEUED_REQUESTS", defaultValue: 64, parser: .integer(0...100_000),
        property: \.apiMaxQueuedRequests,
        meaning: "API requests that may wait for a database slot (one per DB_QUERY_POOL_SIZE connection), split between the "
            + "event loops; one more is answered 503 with Retry-After at once.")
    static let apiQueueTimeoutMs = Setting(
        name: "API_QUEUE_TIMEOUT_MS", defaultValue: 5000, parser: .integer(1...3_600_000),
        property: \.apiQueueTimeoutMs,
        meaning: "Milliseconds an API request may wait for a database slot; then it is answered 503 with Retry-After instead of running late.")
    static let maxBufferedBytes = Setting(
        name: "MAX_BUFFERED_BYTES", defaultValue: 256 << 20, parser: .integer((1 << 20)...(64 << 30)),
        property: \.maxBufferedBytes,
        meaning: "Bytes of rows held in memory until committed; above this, node sockets are not read until it drains.")
    static let spoolDir = Setting(
        name: "SPOOL_DIR", defaultValue: nil, parser: .optionalPath, property: \.spoolDir,
        meaning: "Directory of the disk spool: batches PostgreSQL cannot take now (database unreachable, or over half of "
            + "MAX_BUFFERED_BYTES held) are synced there and written later, oldest first. Unset: no spool, only backpressure.")
    static let spoolMaxBytes = Setting(
        name: "SPOOL_MAX_BYTES", defaultValue: 10 << 30, parser: .integer((1 << 20)...(1 << 50)), property: \.spoolMaxBytes,
        meaning: "Most bytes the spool's files hold (split between the event loops); when full, backpressure as without a spool.")
    static let shutdownTimeoutS = Setting(
        name: "SHUTDOWN_TIMEOUT_S", defaultValue: 30, parser: .integer(1...3600), property: \.shutdownTimeoutS,
        meaning: "Longest a shutdown waits, in seconds, for buffered rows to be written.")
    static let maxNodeIDsPerConnection = Setting(
        name: "MAX_NODE_IDS_PER_CONNECTION", defaultValue: 20, parser: .integer(1...1000),
        property: \.maxNodeIDsPerConnection,
        meaning: "Distinct node ids one connection may use in the wrapped message form; further ids are rejected.")
    static let apiToken = Setting(
        name: "API_TOKEN", defaultValue: nil, parser: .secret, property: \.apiToken,
        meaning: "Bearer token the write endpoints (POST /host_systems, /benchmarks, /benchmarks/events) require; unset leaves them open.")
    static let nodeIDIdleS = Setting(
        name: "NODE_ID_IDLE_S", defaultValue: 60, parser: .integer(1...86_400), property: \.nodeIDIdleS,
        meaning: "A wrapped-form node id that sent nothing for this many seconds is forgotten by its connection, freeing its slot.")
    static let ingestAllow = Setting(
        name: "INGEST_ALLOW", defaultValue: NetworkAllowlist.everyone, parser: .networks, property: \.ingestAllow,
        meaning: "Networks that may open telemetry connections (checked on the peer, or forwarded, address); others get 403.")
    static let maxConnections = Setting(
        name: "MAX_CONNECTIONS", defaultValue: 100_000, parser: .integer(1...10_000_000), property: \.maxConnections,
        meaning: "Telemetry connections open at once; further upgrades get 503.")
    static let maxConnectionsPerIP = Setting(
        name: "MAX_CONNECTIONS_PER_IP", defaultValue: 100_000, parser: .integer(1...10_000_000),
        property: \.maxConnectionsPerIP,
        meaning: "Telemetry connections open at once from one address; further upgrades get 503. Lower it on a public address.")
    static let ingestMaxBytesPerS = Setting(
        name: "INGEST_MAX_BYTES_PER_S", defaultValue: 256 << 10, parser: .integer(1024...(1 << 40)),
        property: \.ingestMaxBytesPerS,
        meaning: "Data rate of one telemetry connection, averaged over INGEST_RATE_WINDOW_S; above it the connection is closed with 1008 and its address blocked.")
    static let ingestRateWindowS = Setting(
        name: "INGEST_RATE_WINDOW_S", defaultValue: 10, parser: .integer(1...600), property: \.ingestRateWindowS,
        meaning: "Seconds over which a connection's data rate is averaged.")
    static let ingestBlockS = Setting(
        name: "INGEST_BLOCK_S", defaultValue: 60, parser: .integer(1...86_400), property: \.ingestBlockS,
        meaning: "Seconds an address is refused (403) after going over the data rate; doubled for each repeat soon after, up to an hour.")
    static let trustProxyHeaders = Setting(
        name: "TRUST_PROXY_HEADERS", defaultValue: false, parser: .boolean, property: \.trustProxyHeaders,
        meaning: "Take a node's address from Forwarded or X-Forwarded-For; enable only behind a proxy that sets them.")
    static let cacheUpdateTimeoutS = Setting(
        name: "CACHE_UPDATE_TIMEOUT_S", defaultValue: 15, parser: .integer(1...3600), property: \.cacheUpdateTimeoutS,
        meaning: "Feed cache: seconds before a slow update is reported; it is abandoned after four times as long.")
    static let cacheUpdateIntervalMs = Setting(
        name: "CACHE_UPDATE_INTERVAL_MS", defaultValue: 1000, parser: .integer(1...3_600_000),
        property: \.cacheUpdateIntervalMs,
        meaning: "Feed cache: milliseconds between updates.")
    static let cacheExpiryS = Setting(
        name: "CACHE_EXPIRY_S", defaultValue: 3600, parser: .integer(1...86400 * 30), property: \.cacheExpiryS,
        meaning: "Feed cache: seconds a telemetry message stays in the cache.")
    static let feedMaxClientBacklogBytes = Setting(
        name: "FEED_MAX_CLIENT_BACKLOG_BYTES", defaultValue: 8 << 20, parser: .integer((64 << 10)...(1 << 30)),
        property: \.feedMaxClientBacklogBytes,
        meaning: "Bytes of feed messages a /feed client may leave unread; past this it is disconnected with 1008.")
    static let networkState = Setting(
        name: "NETWORK_STATE", defaultValue: true, parser: .boolean, property: \.networkState,
        meaning: "Keep the network's state (nodes, chains, block propagation, history) from the telemetry: the /chains and "
            + "/nodes/{peer_id} routes, /subscribe and the chain metrics. Off: telemetry is only stored.")
    static let networkStaleS = Setting(
        name: "NETWORK_STALE_S", defaultValue: 120, parser: .integer(1...86_400), property: \.networkStaleS,
        meaning: "An online node whose best block has not risen for this many seconds, while its chain's has, is stale.")
    static let networkPropagationWindowS = Setting(
        name: "NETWORK_PROPAGATION_WINDOW_S", defaultValue: 300, parser: .integer(1...3600),
        property: \.networkPropagationWindowS,
        meaning: "Seconds after a block's first sighting during which a node's import of it counts as propagation; "
            + "the blocks of this window are held in memory.")
    static let networkSeriesStepS = Setting(
        name: "NETWORK_SERIES_STEP_S", defaultValue: 60, parser: .integer(1...3600), property: \.networkSeriesStepS,
        meaning: "Seconds between two rows of a node's stored history: the finest step /nodes/{peer_id}/series can give.")
    static let networkHistoryExpiryH = Setting(
        name: "NETWORK_HISTORY_EXPIRY_H", defaultValue: 8760, parser: .integer(1...10_000_000),
        property: \.networkHistoryExpiryH,
        meaning: "Hours that the network's history (per-node series, block propagation, node sessions) is kept, "
            + "whatever LOG_EXPIRY_H is.")
    static let networkMetricsPerNodeMax = Setting(
        name: "NETWORK_METRICS_PER_NODE_MAX", defaultValue: 0, parser: .integer(0...100_000),
        property: \.networkMetricsPerNodeMax,
        meaning: "/metrics also gives per-node series (label peer_id) for up to this many online nodes; 0 keeps the "
            + "network metrics per chain only.")
    static let assetsPath = Setting(
        name: "ASSETS_PATH", defaultValue: "./static", parser: .path, property: \.assetsPath,
        meaning: "Directory of the static files the server serves.")
    static let migrationsPath = Setting(
        name: "MIGRATIONS_PATH", defaultValue: "./Migrations", parser: .path, property: \.migrationsPath,
        meaning: "Directory of the SQL migrations applied at start-up.")
    static let embeddedPGDir = Setting(
        name: "EMBEDDED_PG_DIR", defaultValue: "./.tetcore/pg", parser: .path, property: \.embeddedPGDir,
        meaning: "Data directory of the embedded PostgreSQL, used when DATABASE_URL is unset.")
    static let logLevel = Setting(
        name: "LOG_LEVEL", defaultValue: Logger.Level.info, parser: .logLevel, property: \.logLevel,
        meaning: "Least severe log message written. When unset, RUST_LOG is read as the original server read it "
            + "(a level, or env_logger directives such as tetcore_analytics=debug).",
        fallback: .init(name: "RUST_LOG", parser: .rustLog))
}
