// Service: wires the concerns together and owns the process lifecycle.
//
// Start-up: settings → (embedded PostgreSQL) → listen (so /metrics answers
// at once) → connect and migrate with backoff → write and query pools →
// purge timer. Shutdown on SIGINT/SIGTERM: stop accepting, close every
// WebSocket with 1001 (reading what nodes still send), flush every
// buffered row, close pools, stop the embedded PostgreSQL, exit 0.
import Foundation
import Glibc
import Logging

public final class AnalyticsService {
    private let settings: Settings
    private let logger: Logger
    private let loop = EventLoop()
    private let metrics = MetricsRegistry()
    private var embedded: EmbeddedPostgres?
    private var conninfo = ""
    private var http: HTTPServer?
    private var ingestion: Ingestion?
    private var writePool: PGPool?
    private var queryPool: PGPool?
    private var queryQueue: StatementQueue?
    private var purger: LogPurger?
    private var partitioner: LogPartitioner?
    private var feed: Feed?
    private var migrationConnection: PGConnection?
    private var migrated = false
    private var shuttingDown = false
    private var signals: [SignalWatcher] = []
    private var migrationBackoffMs: UInt64 = 0
    private var exitStatus: Int32 = 0
    /// Set for the `migrate` command: exit once migrations are applied.
    private var migrateOnly = false
    public private(set) var boundPort = 0

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// Serves until SIGINT/SIGTERM; returns the exit status.
    public func serve() -> Int32 {
        for (name, value) in settings.effectiveSettingsDescription() {
            logger.info("setting", metadata: ["name": "\(name)", "value": "\(value)"])
        }
        raiseOpenFileLimit()
        if settings.numThreads > 1 {
            logger.warning("this release runs one event loop; NUM_THREADS above 1 has no effect yet",
                           metadata: ["NUM_THREADS": "\(settings.numThreads)"])
        }
        // Before the embedded PostgreSQL starts: a signal during its start is
        // then handled once the loop runs, and the cluster is stopped cleanly.
        installSignalHandlers()
        do {
            conninfo = try databaseConninfo()
            let router = try makeRouter()
            let server = HTTPServer(loop: loop, router: router, limits: HTTPServer.Limits(
                clientTimeoutMs: UInt64(settings.clientTimeoutS) * 1000,
                heartbeatIntervalMs: UInt64(settings.heartbeatIntervalS) * 1000,
                maxMessageBytes: settings.wsMaxPayload), logger: logger)
            server.onResponse = { [unowned self] path, status in
                self.metrics.http.recordResponse(route: router.routePattern(forPath: path), status: status)
            }
            server.onWebSocketClosed = { [unowned self] code in
                self.metrics.http.recordClose(code: code)
                self.metrics.ingestion.webSocketClosed(code: code)
            }
            boundPort = try server.listen(host: settings.host, port: settings.port,
                                          backlog: Int32(clamping: settings.maxPendingConnections))
            http = server
            logger.info("listening", metadata: ["address": "\(settings.host):\(boundPort)"])
            if settings.apiToken == nil && !["127.0.0.1", "::1"].contains(settings.host) {
                logger.warning("API_TOKEN is unset: anyone who reaches this address can write host systems and benchmarks")
            }
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            embedded?.stop()
            return 1
        }
        migrate()
        loop.run()
        embedded?.stop()
        return exitStatus
    }

    /// Every node is a socket: take the hard limit of open files, not the
    /// (often 1024) soft one, and say what it is.
    private func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        logger.info("open file limit", metadata: ["limit": "\(limit.rlim_cur)"])
    }

    /// Applies migrations and exits (the `migrate` command).
    public func migrateAndExit() -> Int32 {
        migrateOnly = true
        installSignalHandlers()
        do {
            conninfo = try databaseConninfo()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            return 1
        }
        migrate()
        loop.run()
        embedded?.stop()
        return exitStatus
    }

    private func databaseConninfo() throws -> String {
        if let url = settings.databaseURL { return url }
        let embedded = EmbeddedPostgres(dataDirectory: settings.embeddedPGDir, logger: logger)
        self.embedded = embedded
        return try embedded.start()
    }

    // MARK: Start-up

    /// Connects and migrates, retrying with backoff while the database is
    /// unreachable; the HTTP side (and /metrics) is already serving.
    private func migrate() {
        guard !shuttingDown else { return }
        let migrator: Migrator
        do {
            migrator = try Migrator(directory: settings.migrationsPath, logger: logger)
        } catch {
            logger.critical("cannot read migrations", metadata: ["error": "\(error)"])
            exitStatus = 1
            stop()
            return
        }
        let connection = PGConnection(loop: loop, conninfo: conninfo, name: "migrations", logger: logger)
        migrationConnection = connection
        connection.connect { [weak self] error in
            guard let self else { return }
            if let error { return self.retryMigration(after: error) }
            migrator.run(on: connection) { result in
                connection.close()
                self.migrationConnection = nil
                switch result {
                case .failure(let error) where error.kind == .query:
                    self.logger.critical("migration failed", metadata: ["error": "\(error)"])
                    self.exitStatus = 1
                    self.stop()
                case .failure(let error):
                    self.retryMigration(after: error)
                case .success(let applied):
                    self.logger.info("database schema is up to date", metadata: ["applied_now": "\(applied.count)"])
                    self.migrated = true
                    if self.migrateOnly { self.stop() } else { self.startStorage() }
                }
            }
        }
    }

    private func retryMigration(after error: PGError) {
        migrationBackoffMs = min(max(migrationBackoffMs * 2, 250), 10_000)
        logger.warning("database unreachable; retrying", metadata: ["error": "\(error.message)", "retry_in_ms": "\(migrationBackoffMs)"])
        LoopTimer.once(on: loop, after: migrationBackoffMs) { [weak self] in self?.migrate() }
    }

    private func startStorage() {
        guard !shuttingDown, let ingestion else { return }
        writePool?.start()
        queryPool?.start()
        let purger = LogPurger(loop: loop, queue: queryQueue!, expiryHours: settings.logExpiryH,
                               openRowIDs: { ingestion.openRowIDs }, logger: logger)
        purger.start(intervalSeconds: settings.purgeIntervalS)
        self.purger = purger
        let partitioner = LogPartitioner(loop: loop, queue: queryQueue!, logger: logger)
        partitioner.start()
        self.partitioner = partitioner
        feed?.start()
    }

    private func makeRouter() throws -> Router {
        let instanceID = String(UInt64.random(in: 1...UInt64.max), radix: 36)
        let writePool = PGPool(loop: loop, conninfo: conninfo, size: settings.dbPoolSize, pipelined: true,
                               name: "write", logger: logger)
        let queryConninfo = conninfo + (conninfo.contains("://") ? (conninfo.contains("?") ? "&" : "?") : " ")
            + (conninfo.contains("://") ? "options=-c%20statement_timeout%3D\(settings.statementTimeoutMs)"
                                        : "options='-c statement_timeout=\(settings.statementTimeoutMs)'")
        let queryPool = PGPool(loop: loop, conninfo: queryConninfo, size: settings.dbQueryPoolSize, pipelined: true,
                               name: "query", logger: logger)
        self.writePool = writePool
        self.queryPool = queryPool
        queryQueue = StatementQueue(pool: queryPool, maxInFlightPerConnection: 8)
        var ingestionOptions = Ingestion.Options(
            batchSize: settings.dbBatchSize, batchBytes: settings.dbBatchBytes, maxBatchLatencyMs: UInt64(settings.dbSaveLatencyMs),
            maxBufferedBytes: settings.maxBufferedBytes, maxBatchesInFlightPerConnection: settings.dbMaxBatchesInFlight,
            maxNodeIDsPerConnection: settings.maxNodeIDsPerConnection, trustProxyHeaders: settings.trustProxyHeaders)
        ingestionOptions.nodeIDIdleMs = UInt64(settings.nodeIDIdleS) * 1000
        ingestionOptions.admission.allowlist = settings.ingestAllow
        ingestionOptions.admission.maxConnections = settings.maxConnections
        ingestionOptions.admission.maxConnectionsPerIP = settings.maxConnectionsPerIP
        ingestionOptions.admission.maxBytesPerSecond = settings.ingestMaxBytesPerS
        ingestionOptions.admission.rateWindowSeconds = settings.ingestRateWindowS
        ingestionOptions.admission.blockSeconds = settings.ingestBlockS
        let ingestion = Ingestion(loop: loop, writePool: writePool, options: ingestionOptions,
                                  metrics: metrics.ingestion, instanceID: instanceID, logger: logger)
        self.ingestion = ingestion

        var router = Router()
        ingestion.install(in: &router)
        let feed = Feed(loop: loop, queue: queryQueue!, options: Feed.Options(
            updateIntervalMs: UInt64(settings.cacheUpdateIntervalMs), updateTimeoutMs: UInt64(settings.cacheUpdateTimeoutS) * 1000,
            expiryS: settings.cacheExpiryS, maxClientBacklogBytes: settings.feedMaxClientBacklogBytes),
            metrics: metrics.feed, logger: logger)
        feed.install(in: &router)
        ingestion.onBatchCommitted = { [unowned feed] in feed.rowsCommitted() }
        self.feed = feed
        let assets = try StaticFiles(directory: settings.assetsPath)
        router.addPrefix("GET", "/dashboard") { request, respond in
            respond(assets.response(for: request.pathParameters["rest"] ?? ""))
        }
        router.add("GET", "/metrics") { [unowned self] _, respond in
            respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                                 body: self.metricsExposition()))
        }
        API(queue: queryQueue!, assetsPath: settings.assetsPath, apiToken: settings.apiToken, logger: logger).install(in: &router)
        router.add("GET", "/stats/version") { _, respond in
            respond(.json(object: ["name": "tetcore-analytics", "version": AnalyticsService.version,
                                   "description": "Telemetry analytics server for Tetcore nodes"]))
        }
        router.add("GET", "/healthz") { _, respond in respond(.json(object: ["status": "alive"])) }
        router.add("GET", "/readyz") { [unowned self] _, respond in
            let ready = self.migrated && !self.shuttingDown && writePool.readyCount > 0
            respond(.json(ready ? 200 : 503, object: ["ready": ready, "migrated": self.migrated,
                                                      "shutting_down": self.shuttingDown,
                                                      "database_connections_ready": writePool.readyCount]))
        }
        return router
    }

    public static let version = "0.2.0"

    /// Everything is read from memory and /proc: a scrape never waits for
    /// the database, whatever state it is in.
    private func metricsExposition() -> [UInt8] {
        var state = ServerState()
        if let ingestion {
            state.telemetryConnections = ingestion.openConnections
            state.bufferedBytes = ingestion.bufferedBytes
            state.backpressureActive = ingestion.budget.isOverLimit
        }
        for (name, pool) in [("write", writePool), ("query", queryPool)] {
            guard let pool else { continue }
            state.pools.append(ServerState.Pool(name: name, open: pool.readyCount, busy: pool.busyCount,
                                                reconnects: pool.reconnectCount))
        }
        if let purger {
            state.purgeRuns = purger.runs
            state.purgedRows = purger.rowsPurged
            state.purgedConnections = purger.connectionsPurged
            state.purgedPartitions = purger.partitionsDropped
        }
        state.partitionsMade = partitioner?.partitionsMade ?? 0
        state.feedCaches = feed?.cacheCount ?? 0
        return metrics.exposition(state)
    }

    // MARK: Shutdown

    private func installSignalHandlers() {
        // A write to a socket the peer has reset must fail with EPIPE (which
        // libuv reports and the connection handles), not kill the process:
        // libuv leaves SIGPIPE to the application.
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGINT, SIGTERM] {
            if let watcher = try? SignalWatcher(loop: loop, signal: number, { [weak self] signal in
                self?.shutdown(signal: signal)
            }) {
                signals.append(watcher)
            }
        }
    }

    private func shutdown(signal: Int32) {
        guard !shuttingDown else {
            logger.warning("second signal: exiting now")
            exit(exitStatus)
        }
        shuttingDown = true
        logger.info("shutting down", metadata: ["signal": "\(signal)"])
        purger?.stop()
        partitioner?.stop()
        http?.stopAccepting()
        http?.closeAll(code: 1001, reason: "server shutting down")
        let deadline = loop.nowMilliseconds + UInt64(settings.shutdownTimeoutS) * 1000
        waitForDrain(deadline: deadline)
    }

    /// Waits for the sockets to finish their closing handshakes, flushes,
    /// then waits for the writer, all bounded by SHUTDOWN_TIMEOUT_S.
    private func waitForDrain(deadline: UInt64) {
        let socketsOpen = (http?.webSockets.count ?? 0) > 0
        if !socketsOpen { ingestion?.flush() }
        let drained = !socketsOpen && (ingestion?.isDrained ?? true)
        if drained || loop.nowMilliseconds >= deadline || migrationConnection != nil {
            if !drained, let ingestion {
                logger.error("shutdown timeout: rows not written", metadata: ["bytes": "\(ingestion.bufferedBytes)"])
                exitStatus = 1
            }
            stop()
            return
        }
        LoopTimer.once(on: loop, after: 20) { [weak self] in self?.waitForDrain(deadline: deadline) }
    }

    private func stop() {
        http?.stopAccepting()
        http?.stopTimers()
        purger?.stop()
        partitioner?.stop()
        feed?.stop()
        writePool?.close()
        queryPool?.close()
        migrationConnection?.close()
        signals = []
        loop.stop()
    }
}
