import CSupport
import Logging
import Reactor
import PostgresClient
import WebServer

/// The ingestion pipeline of one event loop, and this folder's overview.
///
/// One message: WebSocketConnection (WebServer) delivers it whole →
/// TelemetryConnection counts it, checks the data rate, pre-parses it in C
/// (MessagePreparser) and finds its node's peer_connections row
/// (PeerConnectionStore) → MessageBatcher appends it to the open batch, held
/// in PostgreSQL's binary array format (MessageBatch) → at the batch limits
/// BatchWriter (Storage/) sends it and keeps it until PostgreSQL commits.
/// BufferBudget bounds the bytes held and pauses node sockets when full.
///
/// This type owns the telemetry routes' upgrade handler, the open
/// connections, their shared TelemetryConnectionContext, the batchers and
/// the writer. Only admission is shared with other loops.
package final class Ingestion {
    let counters = IngestionCounters()
    let writer: BatchWriter
    let budget: BufferBudget
    /// What the telemetry connections share; they see nothing else of this.
    let context: TelemetryConnectionContext
    private let admission: Admission
    private let trustProxyHeaders: Bool
    private let loop: EventLoop
    private let logger: Logger
    private var connections: [ObjectIdentifier: TelemetryConnection] = [:]
    private var pausedSinceMs: UInt64?

    /// `admission` is the process's, shared with the other loops' ingestions;
    /// `batchIDPrefix` tells this loop's batches from every other's;
    /// `spoolPath`, this loop's spool directory (nil: no spool).
    init(loop: EventLoop, writePool: PGPool, settings: Settings, admission: Admission, histograms: BatchHistograms,
         batchIDPrefix: String, spoolPath: String? = nil, logger: Logger) {
        self.loop = loop
        self.logger = logger
        self.admission = admission
        trustProxyHeaders = settings.trustProxyHeaders
        let queue = StatementQueue(pool: writePool, maxInFlightPerConnection: settings.dbMaxBatchesInFlight)
        budget = BufferBudget(limit: settings.maxBufferedBytes)
        writer = BatchWriter(loop: loop, queue: queue, budget: budget, histograms: histograms, logger: logger,
                             batchBytes: settings.dbBatchBytes)
        if let spoolPath {
            let loops = settings.numThreads
            let spool = DiskSpool(loop: loop, path: spoolPath, maxBytes: settings.spoolMaxBytes / loops,
                                  counters: writer.spoolCounters, logger: logger)
            // What this loop's write connections take: its slice of the pool
            // (at least one) times the pipeline depth.
            writer.enableSpool(spool, submitLimit: max(1, settings.dbPoolSize / loops) * settings.dbMaxBatchesInFlight)
        }
        let limits = MessageBatcher.Limits(rows: settings.dbBatchSize, bytes: settings.dbBatchBytes,
                                           latencyMs: UInt64(settings.dbSaveLatencyMs))
        var network: NetworkTracker?
        if settings.networkState {
            let lastSeenRefreshMs = min(15_000, Int64(settings.nodeIDIdleS) * 1000 / 4)
            network = NetworkTracker(loop: loop, queue: queue, writerID: batchIDPrefix, options: .init(
                rules: settings.livenessRules, seriesStepMs: Int64(settings.networkSeriesStepS) * 1000,
                propagationWindowMs: Int64(settings.networkPropagationWindowS) * 1000,
                lastSeenRefreshMs: lastSeenRefreshMs, lazyDelayMs: min(5000, lastSeenRefreshMs)), logger: logger)
        }
        let policy = admission.policy
        context = TelemetryConnectionContext(
            loop: loop,
            rules: .init(maxNodeIDs: settings.maxNodeIDsPerConnection, nodeIDIdleMs: UInt64(settings.nodeIDIdleS) * 1000,
                         maxBytesPerSecond: policy.maxBytesPerSecond, rateWindowSeconds: policy.rateWindowSeconds),
            counters: counters, rejections: RejectionLog(logger: logger),
            peers: PeerConnectionStore(queue: queue, loop: loop, logger: logger),
            liveBatcher: MessageBatcher(loop: loop, audit: false, limits: limits, writer: writer, budget: budget,
                                        batchIDPrefix: batchIDPrefix),
            auditBatcher: MessageBatcher(loop: loop, audit: true, limits: limits, writer: writer, budget: budget,
                                         batchIDPrefix: batchIDPrefix + "-audit"),
            network: network)
        context.onClosed = { [unowned self] connection in self.connectionClosed(connection) }
        context.onRateExceeded = { [unowned self] connection, rate in self.rateExceeded(connection, bytesPerSecond: rate) }
        budget.onPressureChange = { [unowned self] over in self.applyBackpressure(over) }
    }

    /// Registers `/` and `/audit`.
    package func install(in router: inout Router) {
        router.addWebSocket("/") { [unowned self] request, peer, decision in
            self.upgrade(request, peer: peer, audit: false, decision)
        }
        router.addWebSocket("/audit") { [unowned self] request, peer, decision in
            self.upgrade(request, peer: peer, audit: true, decision)
        }
    }

    /// Bytes held until committed (open batch, queued and in flight).
    package var bufferedBytes: Int { budget.bytes }
    package var openConnections: Int { connections.count }
    package var isDrained: Bool {
        context.liveBatcher.openRowCount == 0 && context.auditBatcher.openRowCount == 0 && writer.outstandingBatches == 0
    }

    /// The node state's writes are all answered (always, with NETWORK_STATE off).
    package var isNetworkStateWritten: Bool { context.network?.isIdle ?? true }

    /// peer_connections ids of the nodes connected to this loop.
    package var openPeerConnectionIDs: [Int32] { connections.values.flatMap(\.peerConnectionIDs) }

    /// Called each time a batch of rows is committed.
    var onBatchCommitted: (() -> Void)? {
        get { writer.onCommitted }
        set { writer.onCommitted = newValue }
    }

    /// Hands the open batch to the writer now (shutdown), and writes the
    /// nodes' state (if that fails or times out, a node left online is
    /// offline for its readers once silent for NODE_ID_IDLE_S).
    package func flush() {
        context.liveBatcher.flush()
        context.auditBatcher.flush()
        context.network?.flush()
    }

    private func upgrade(_ request: HTTPRequest, peer: String, audit: Bool, _ decision: WebSocketUpgradeDecision) {
        let address = trustProxyHeaders ? (ForwardedAddress.first(in: request) ?? peer) : peer
        let host = Admission.host(of: address)
        if let refusal = admission.admit(host, nowMs: loop.nowMilliseconds) {
            counters.connectionsRefused.increment([refusal.rawValue])
            decision.reject(Ingestion.response(for: refusal))
            return
        }
        // unowned, not weak: the Ingestion lives as long as the service, and a
        // weakly referenced object pays for a side table on every retain and
        // release, which the per-message path does on it.
        context.peers.create(ipAddress: address, audit: audit) { [unowned self] result in
            switch result {
            case .success(let peerConnectionID):
                let upgraded = decision.accept { socket in
                    let connection = TelemetryConnection(context: self.context, peerConnectionID: peerConnectionID, ipAddress: address, host: host, audit: audit)
                    connection.socket = socket
                    socket.delegate = connection
                    self.connections[ObjectIdentifier(connection)] = connection
                    self.counters.nodesConnected += 1
                    if self.budget.isOverLimit { socket.pauseReading(.backpressure) }
                }
                if !upgraded { self.admission.release(host) } // the client left while its row was made
            case .failure(let error):
                self.admission.release(host)
                self.counters.upgradesRefused += 1
                self.logger.warning("refusing a node: cannot record its connection", metadata: ["error": "\(error)"])
                decision.reject(.error(503, "the database is unavailable; cannot record this connection, retry later"))
            }
        }
    }

    private func connectionClosed(_ connection: TelemetryConnection) {
        context.network?.closed(connection.peerConnectionIDs)
        connections[ObjectIdentifier(connection)] = nil
        admission.release(connection.host)
        counters.nodesDropped += 1
    }

    /// A connection went over INGEST_MAX_BYTES_PER_S: close it with 1008
    /// (policy violation) and refuse its address for a while.
    private func rateExceeded(_ connection: TelemetryConnection, bytesPerSecond: Int) {
        let blockedMs = admission.rateExceeded(by: connection.host, nowMs: loop.nowMilliseconds)
        counters.rateLimitCloses += 1
        logger.warning("closing a telemetry connection over the data rate limit; blocking its address", metadata: [
            "peer": "\(connection.ipAddress)", "bytes_per_s": "\(bytesPerSecond)",
            "limit": "\(context.rules.maxBytesPerSecond)", "blocked_s": "\(blockedMs / 1000)",
        ])
        connection.socket?.fail(code: 1008, reason: "data rate limit exceeded")
    }

    private func applyBackpressure(_ over: Bool) {
        let now = loop.nowMilliseconds
        let pausedMs = pausedSinceMs.map { now &- $0 } ?? 0
        if over {
            pausedSinceMs = now
            logger.warning("buffered rows exceed MAX_BUFFERED_BYTES; pausing node sockets", metadata: ["bytes": "\(budget.bytes)"])
        } else if let since = pausedSinceMs {
            counters.backpressurePausedMs += Int(now &- since)
            pausedSinceMs = nil
            logger.info("backlog drained; resuming node sockets")
        }
        for connection in connections.values {
            if over {
                connection.socket?.pauseReading(.backpressure)
            } else {
                connection.excuseBacklog(ofPausedMs: pausedMs)
                connection.socket?.resumeReading(.backpressure)
            }
        }
    }

    /// The status and error text of a refused upgrade.
    private static func response(for refusal: Admission.Refusal) -> HTTPResponse {
        switch refusal {
        case .notAllowed:
            return .error(403, "this address may not send telemetry here (INGEST_ALLOW)")
        case .blocked:
            return .error(403, "this address is blocked for a while: one of its connections went over the data rate limit")
        case .tooManyConnections:
            return .error(503, "too many telemetry connections (MAX_CONNECTIONS); retry later")
        case .tooManyFromAddress:
            return .error(503, "too many telemetry connections from this address (MAX_CONNECTIONS_PER_IP)")
        }
    }
}
