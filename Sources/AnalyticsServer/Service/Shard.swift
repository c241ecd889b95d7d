import Foundation
import Logging
import Reactor
import PostgresClient
import WebServer

/// One event loop of the server and everything it serves with: its HTTP
/// server (every route: SO_REUSEPORT spreads connections by the kernel, not
/// by path), its slice of the write and query pools, its ingestion and its
/// feed. Everything here runs on the shard's own loop thread; other
/// threads reach it only through `mailbox`. Loop 0 also runs the purger and
/// the partitioner.
final class Shard {
    let index: Int
    let loop: EventLoop
    let mailbox: Mailbox
    let httpCounters = HTTPCounters()
    private unowned let group: ShardGroup
    private let settings: Settings
    private let logger: Logger
    /// Set at the end of init (its router's routes call back into self).
    private var http: HTTPServer?
    private let ingestion: Ingestion
    private let writePool: PGPool
    private let queryPool: PGPool
    private let queryQueue: StatementQueue
    /// DATABASE_READ_URL's connections, when it is set.
    private let readPool: PGPool?
    /// Where API queries and feed refreshes go (the replica or the primary).
    private let reads: ReadRoute
    /// Loop 0, with DATABASE_READ_URL: measures the replica's lag.
    private var lagMonitor: ReplicaLagMonitor?
    /// Bounds the API's share of the query pool (API_MAX_QUEUED_REQUESTS).
    private let apiGate: APIQueryGate
    private let feed: Feed
    /// Every node and recent block of the network (NETWORK_STATE); nil when off.
    private let network: NetworkView?
    private let subscriptions: NetworkSubscriptions?
    /// The node lists of `network`, built on their own thread.
    private let nodeLists: NodeLists?
    private var purger: ExpiryPurger?
    private var partitioner: PartitionMaker?
    private var historyKeeper: NetworkHistoryKeeper?
    private var isFinished = false
    private(set) var boundPort = 0
    /// Called once, on this loop, when the shard has stopped: whether
    /// every row it accepted was written.
    var onFinished: ((Shard, Bool) -> Void)?

    /// Builds the shard and starts listening. Call on the loop's thread,
    /// or before the loop runs on its own thread. `port` is the settings'
    /// port for loop 0, the port loop 0 got for the others.
    init(index: Int, loop: EventLoop, group: ShardGroup, port: Int) throws {
        self.index = index
        self.loop = loop
        self.group = group
        settings = group.settings
        var logger = group.logger
        if settings.numThreads > 1 { logger[metadataKey: "loop"] = "\(index)" }
        self.logger = logger
        mailbox = Mailbox(loop: loop)

        let loops = settings.numThreads
        // Reconnects at least every second: after a failover the writer
        // finds the new primary within a second of its promotion (a failed
        // attempt costs one TCP connect).
        writePool = PGPool(loop: loop, conninfo: group.conninfo,
                           size: Shard.slice(of: settings.dbPoolSize, loops: loops, index: index),
                           pipelined: true, name: "write", logger: logger, maxBackoffMs: Shard.writeReconnectMaxBackoffMs)
        queryPool = PGPool(loop: loop, conninfo: Shard.withStatementTimeout(group.conninfo, settings.statementTimeoutMs),
                           size: Shard.slice(of: settings.dbQueryPoolSize, loops: loops, index: index),
                           pipelined: true, name: "query", logger: logger)
        queryQueue = StatementQueue(pool: queryPool, maxInFlightPerConnection: 8)
        if let readURL = settings.databaseReadURL {
            let readPool = PGPool(loop: loop, conninfo: Shard.withStatementTimeout(readURL, settings.statementTimeoutMs),
                                  size: Shard.slice(of: settings.dbQueryPoolSize, loops: loops, index: index),
                                  pipelined: true, name: "read", logger: logger)
            self.readPool = readPool
            reads = ReadRoute(primary: queryQueue, replica: StatementQueue(pool: readPool, maxInFlightPerConnection: 8),
                              replicaUsable: { [unowned group] in group.isReadReplicaUsable })
        } else {
            readPool = nil
            reads = ReadRoute(primary: queryQueue)
        }
        // One API statement per query connection: pipelining a second behind
        // a heavy one gains nothing and hides its wait from the gate, and the
        // feed's and the network view's statements then queue behind one
        // API statement at most.
        apiGate = APIQueryGate(loop: loop, limits: .init(
            maxRunning: Shard.slice(of: settings.dbQueryPoolSize, loops: loops, index: index),
            maxQueued: settings.apiMaxQueuedRequests / loops + (index < settings.apiMaxQueuedRequests % loops ? 1 : 0),
            queueTimeoutMs: UInt64(settings.apiQueueTimeoutMs)), waitHistogram: group.apiQueueWait)
        // Each loop numbers its batches itself: its own id keeps the
        // exactly-once markers of two loops apart.
        ingestion = Ingestion(loop: loop, writePool: writePool, settings: settings, admission: group.admission,
                              histograms: group.batchHistograms, batchIDPrefix: "\(group.instanceID)-\(index)",
                              spoolPath: settings.spoolDir.map { "\($0)/loop-\(index)" }, logger: logger)
        feed = Feed(loop: loop, reads: reads, options: Feed.Options(
            updateIntervalMs: UInt64(settings.cacheUpdateIntervalMs), updateTimeoutMs: UInt64(settings.cacheUpdateTimeoutS) * 1000,
            expiryS: settings.cacheExpiryS, maxClientBacklogBytes: settings.feedMaxClientBacklogBytes),
            logger: logger)
        ingestion.onBatchCommitted = { [unowned feed] in feed.rowsCommitted() }
        if settings.networkState {
            let view = NetworkView(loop: loop, queue: queryQueue, options: .init(rules: settings.livenessRules), logger: logger)
            if let tracker = ingestion.context.network {
                tracker.chainBest = { [unowned view] genesis in view.chainBest(genesis) }
                view.onBlockSeen = { [unowned tracker] key, firstSeenMs in tracker.learn(firstSeenMs: firstSeenMs, of: key) }
                let histograms = group.propagationHistograms
                tracker.onDelays = { [unowned view] delays in
                    let now = NetworkTime.nowMs()
                    for (genesis, chain) in delays {
                        let name = view.summary(of: genesis, nowMs: now)?.name ?? chain.name ?? ""
                        histograms.observe(genesis: genesis, name: name, delaysMs: chain.delaysMs)
                    }
                }
            }
            network = view
            subscriptions = NetworkSubscriptions(view: view, maxBacklogBytes: settings.feedMaxClientBacklogBytes)
            nodeLists = try NodeLists(view: view, loop: loop)
        } else {
            network = nil
            subscriptions = nil
            nodeLists = nil
        }

        let router = try makeRouter()
        let http = HTTPServer(loop: loop, router: router, limits: HTTPServer.Limits(
            clientTimeoutMs: UInt64(settings.clientTimeoutS) * 1000,
            heartbeatIntervalMs: UInt64(settings.heartbeatIntervalS) * 1000,
            maxMessageBytes: settings.wsMaxPayload), logger: logger)
        http.onResponse = { [httpCounters] path, status in
            httpCounters.recordResponse(route: router.routePattern(forPath: path), status: status)
        }
        http.onWebSocketClosed = { [httpCounters, ingestion] code in
            httpCounters.recordClose(code: code)
            // 1009: the server failed the connection for a message over
            // WS_MAX_PAYLOAD, which is a rejected message.
            if code == 1009 { ingestion.counters.reject(.tooLarge) }
        }
        self.http = http
        boundPort = try http.listen(host: settings.host, port: port,
                                    backlog: Int32(clamping: settings.maxPendingConnections), reusePort: loops > 1)
    }

    static let writeReconnectMaxBackoffMs: UInt64 = 1_000

    /// A loop's share of `total` connections: the total spread evenly, at
    /// least one each (a loop with no connection could store nothing).
    static func slice(of total: Int, loops: Int, index: Int) -> Int {
        max(1, total / loops + (index < total % loops ? 1 : 0))
    }

    /// Chart.js from Debian's libjs-chart.js, read once per process.
    static let chartLibrary = VendoredScript(package: "libjs-chart.js", path: "/usr/share/javascript/chart.js/chart.min.js")

    private static func withStatementTimeout(_ conninfo: String, _ milliseconds: Int) -> String {
        guard conninfo.contains("://") else { return conninfo + " options='-c statement_timeout=\(milliseconds)'" }
        return conninfo + (conninfo.contains("?") ? "&" : "?") + "options=-c%20statement_timeout%3D\(milliseconds)"
    }

    private func makeRouter() throws -> Router {
        var router = Router()
        ingestion.install(in: &router)
        feed.install(in: &router)
        subscriptions?.install(in: &router)
        let assets: StaticFiles
        do {
            assets = try StaticFiles(directory: settings.assetsPath)
        } catch let error as StaticFilesError {
            throw ConfigError("ASSETS_PATH=\(error.description)")
        }
        router.addPrefix("GET", "/dashboard") { request, respond in
            respond(assets.response(for: request.pathParameters["rest"] ?? ""))
        }
        // The dashboards' chart library, from its Debian package (docs/dashboards.md).
        let chartLibrary = Shard.chartLibrary
        if !chartLibrary.isInstalled && index == 0 {
            logger.warning("dashboards without charts: \(chartLibrary.path) is missing (install the Debian package \(chartLibrary.package))")
        }
        router.add("GET", "/vendor/chart.js") { _, respond in respond(chartLibrary.response()) }
        router.add("GET", "/metrics") { [unowned self] _, respond in
            self.group.scrape(from: self) { body in
                respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                                     body: body))
            }
        }
        API(reads: reads, gate: apiGate, assetsPath: settings.assetsPath, apiToken: settings.apiToken,
            network: network.flatMap { view in nodeLists.map { (view, $0) } },
            seriesStepS: Int64(settings.networkSeriesStepS), logger: logger).install(in: &router)
        router.add("GET", "/stats/version") { _, respond in
            respond(.json(object: ["name": "tetcore-analytics", "version": AnalyticsService.version,
                                   "description": "Telemetry analytics server for Tetcore nodes"]))
        }
        router.add("GET", "/healthz") { _, respond in respond(.json(object: ["status": "alive"])) }
        // For the whole process, whichever loop answers: ready when every
        // loop has a write connection (a node may land on any of them).
        router.add("GET", "/readyz") { [unowned self] _, respond in
            self.group.collect(from: self, { $0.writePool.readyCount }) { [group] counts in
                let perLoop = counts.map { $0 ?? 0 }
                let (migrated, shuttingDown) = (group.isMigrated, group.isShuttingDown)
                let ready = migrated && !shuttingDown && perLoop.allSatisfy { $0 > 0 }
                var body: [String: Any] = ["ready": ready, "migrated": migrated, "shutting_down": shuttingDown,
                                           "database_connections_ready": perLoop.reduce(0, +)]
                // The replica does not decide readiness: while it is
                // degraded, reads go to the primary (ReadRoute).
                if self.settings.databaseReadURL != nil {
                    body["read_replica"] = [
                        "status": group.isReadReplicaUsable ? "ok" : "degraded",
                        "lag_seconds": group.readReplicaLagMs.map { Double($0) / 1000 as Any } ?? NSNull(),
                        "max_lag_seconds": self.settings.readReplicaMaxLagS,
                    ]
                }
                respond(.json(ready ? 200 : 503, object: body))
            }
        }
        return router
    }

    // MARK: Read by other loops (through the mailbox, on this loop)

    /// This loop's counters and gauges, copied for the scraping loop.
    func metricReadings() -> MetricReadings {
        var readings = MetricReadings()
        ingestion.record(into: &readings, loopIndex: index)
        feed.record(into: &readings)
        httpCounters.readCounters(into: &readings)
        apiGate.record(into: &readings)
        PoolReadings.record(writePool, into: &readings)
        PoolReadings.record(queryPool, into: &readings)
        if let readPool { PoolReadings.record(readPool, into: &readings) }
        // The process's one measurement, reported once (by loop 0).
        if index == 0, let lagMs = group.readReplicaLagMs {
            readings.record(ReplicaLagMonitor.lagFamily, Double(lagMs) / 1000)
        }
        purger?.counters.readCounters(into: &readings)
        partitioner?.readCounters(into: &readings)
        historyKeeper?.counters.readCounters(into: &readings)
        ingestion.context.network?.counters.readCounters(into: &readings)
        network?.counters.readCounters(into: &readings)
        subscriptions?.record(into: &readings)
        return readings
    }

    /// peer_connections ids of the nodes connected to this loop.
    var openPeerConnectionIDs: [Int32] { ingestion.openPeerConnectionIDs }

    /// The network's gauges, from this loop's view (on this loop).
    func recordNetwork(into readings: inout MetricReadings) {
        guard let network else { return }
        NetworkMetrics.record(network, perNodeMax: settings.networkMetricsPerNodeMax, into: &readings)
    }

    // MARK: Lifecycle (each on this loop)

    /// Once the schema is up to date: opens the pools and starts the feed;
    /// loop 0 also starts the purger and the partitioner.
    func startStorage() {
        guard !isFinished, !group.isShuttingDown else { return }
        writePool.start()
        queryPool.start()
        readPool?.start()
        if index == 0, let replica = reads.replica {
            let monitor = ReplicaLagMonitor(loop: loop, primary: queryQueue, replica: replica,
                                            maxLagMs: UInt64(settings.readReplicaMaxLagS) * 1000, logger: logger)
            monitor.onMeasured = { [unowned monitor, group] lag in group.recordReadReplica(lagMs: lag, usable: monitor.isReplicaUsable) }
            monitor.start()
            lagMonitor = monitor
        }
        if index == 0 {
            let purger = ExpiryPurger(loop: loop, queue: queryQueue, expiryHours: settings.logExpiryH, openPeerConnectionIDs: { [unowned self] done in
                self.group.collect(from: self, { $0.openPeerConnectionIDs }) { ids in done(ids.compactMap { $0 }.flatMap { $0 }) }
            }, logger: logger)
            purger.start(intervalSeconds: settings.purgeIntervalS)
            self.purger = purger
            let partitioner = PartitionMaker(loop: loop, queue: queryQueue, logger: logger)
            partitioner.start()
            self.partitioner = partitioner
            if settings.networkState {
                let keeper = NetworkHistoryKeeper(loop: loop, queue: queryQueue, expiryHours: settings.networkHistoryExpiryH, logger: logger)
                keeper.start(purgeIntervalSeconds: settings.purgeIntervalS)
                historyKeeper = keeper
            }
        }
        feed.start()
        ingestion.context.network?.start()
        network?.start()
    }

    /// Shutdown: refuse new WebSockets (HTTP still answers, /readyz with
    /// 503), close every WebSocket with 1001 (reading what nodes still
    /// send), flush, wait for the writer, then finish.
    /// Without a migrated schema nothing can have been stored: finish at once.
    func beginShutdown(timeoutMs: UInt64) {
        guard !isFinished else { return }
        purger?.stop()
        partitioner?.stop()
        historyKeeper?.stop()
        http?.beginDraining()
        http?.closeAll(code: 1001, reason: "server shutting down")
        waitForDrain(deadline: loop.nowMilliseconds + timeoutMs)
    }

    /// Waits for the sockets to finish their closing handshakes, flushes,
    /// then waits for the writer and the node state's last writes (a flush
    /// in flight holds back the one that marks the closed nodes offline),
    /// all bounded by the deadline. Only unwritten rows make the exit fail.
    private func waitForDrain(deadline: UInt64, announced: Bool = false) {
        let socketsOpen = (http?.webSockets.count ?? 0) > 0
        if !socketsOpen { ingestion.flush() }
        let drained = !socketsOpen && ingestion.isDrained
        let settled = drained && ingestion.isNetworkStateWritten
        // Said once: why a shutdown whose rows are all written still waits.
        let announce = drained && !settled && !announced
        if announce { logger.info("shutdown: rows written; waiting for the node state's last writes") }
        if settled || loop.nowMilliseconds >= deadline || !group.isMigrated {
            if !drained && group.isMigrated {
                logger.error("shutdown timeout: rows not written", metadata: ["bytes": "\(ingestion.bufferedBytes)"])
            } else if !settled && group.isMigrated {
                logger.warning("shutdown timeout: node state not written; its nodes read as offline once silent")
            }
            finish(drained: drained || !group.isMigrated)
            return
        }
        LoopTimer.once(on: loop, after: 20) { [weak self] in
            self?.waitForDrain(deadline: deadline, announced: announced || announce)
        }
    }

    /// Closes everything the shard owns. Loops other than 0 stop here;
    /// loop 0 is stopped by the service once every shard has finished.
    func finish(drained: Bool) {
        guard !isFinished else { return }
        isFinished = true
        http?.stopAccepting()
        http?.stopTimers()
        purger?.stop()
        partitioner?.stop()
        historyKeeper?.stop()
        feed.stop()
        apiGate.close()
        ingestion.context.network?.stop()
        network?.stop()
        lagMonitor?.stop()
        nodeLists?.stop()
        writePool.close()
        queryPool.close()
        readPool?.close()
        group.recordFinalSnapshot(of: self)
        mailbox.close()
        onFinished?(self, drained)
        if index > 0 { loop.stop() }
    }
}
