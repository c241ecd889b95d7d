import CSupport
import Logging
import Reactor
import PostgresClient
import WebServer

/// The ingestion pipeline of one event loop: the telemetry routes' upgrade
/// handler, the open telemetry connections, the batcher and the writer.
/// Only admission is shared with other loops.
package final class Ingestion {
    package struct Options {
        package var batchSize: Int
        package var batchBytes: Int
        package var maxBatchLatencyMs: UInt64
        package var maxBufferedBytes: Int
        package var maxBatchesInFlightPerConnection: Int
        package var maxNodeIDsPerConnection: Int
        package var trustProxyHeaders: Bool
        package var nodeIDIdleMs: UInt64 = 60_000
        package var admission = AdmissionPolicy()
        package init(batchSize: Int, batchBytes: Int, maxBatchLatencyMs: UInt64, maxBufferedBytes: Int,
                    maxBatchesInFlightPerConnection: Int, maxNodeIDsPerConnection: Int, trustProxyHeaders: Bool) {
            self.batchSize = batchSize
            self.batchBytes = batchBytes
            self.maxBatchLatencyMs = maxBatchLatencyMs
            self.maxBufferedBytes = maxBufferedBytes
            self.maxBatchesInFlightPerConnection = maxBatchesInFlightPerConnection
            self.maxNodeIDsPerConnection = maxNodeIDsPerConnection
            self.trustProxyHeaders = trustProxyHeaders
        }
    }

    package let metrics: IngestionMetrics
    /// Rows of `/` and of `/audit` go in separate batches: they are stored
    /// in separate partitions (the audit flag is one parameter per batch).
    let batcher: MessageBatcher
    let auditBatcher: MessageBatcher
    let writer: BatchWriter
    let peers: PeerConnectionStore
    let budget: BufferBudget
    let maxNodeIDsPerConnection: Int
    let options: Options
    private let admission: Admission
    private let loop: EventLoop
    private let logger: Logger
    private var connections: [ObjectIdentifier: TelemetryConnection] = [:]
    /// Output buffer for flattening wrapped messages; grows to the largest.
    private var scratch: [CChar] = Array(repeating: 0, count: 64 * 1024)
    private var pausedSinceMs: UInt64?
    private var lastRejectionLogMs: UInt64 = 0
    private var rejectionsSinceLog = 0

    /// `admission` is the process's, shared with the other loops' ingestions.
    package init(loop: EventLoop, writePool: PGPool, options: Options, metrics: IngestionMetrics,
                admission: Admission, instanceID: String, logger: Logger) {
        self.loop = loop
        self.options = options
        self.metrics = metrics
        self.logger = logger
        self.maxNodeIDsPerConnection = options.maxNodeIDsPerConnection
        self.admission = admission
        let queue = StatementQueue(pool: writePool, maxInFlightPerConnection: options.maxBatchesInFlightPerConnection)
        budget = BufferBudget(limit: options.maxBufferedBytes)
        writer = BatchWriter(loop: loop, queue: queue, budget: budget, metrics: metrics, logger: logger)
        batcher = MessageBatcher(loop: loop, audit: false, batchSize: options.batchSize, batchBytes: options.batchBytes,
                             maxLatencyMs: options.maxBatchLatencyMs, writer: writer, budget: budget, instanceID: instanceID)
        auditBatcher = MessageBatcher(loop: loop, audit: true, batchSize: options.batchSize, batchBytes: options.batchBytes,
                                  maxLatencyMs: options.maxBatchLatencyMs, writer: writer, budget: budget,
                                  instanceID: instanceID + "-audit")
        peers = PeerConnectionStore(queue: queue, loop: loop, logger: logger)
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
        batcher.openRowCount == 0 && auditBatcher.openRowCount == 0 && writer.outstandingBatches == 0
    }

    /// peer_connections ids of the nodes connected to this loop.
    package var openPeerConnectionIDs: [Int32] { connections.values.flatMap(\.peerConnectionIDs) }

    /// Called each time a batch of rows is committed.
    var onBatchCommitted: (() -> Void)? {
        get { writer.onCommitted }
        set { writer.onCommitted = newValue }
    }

    /// Hands the open batch to the writer now (shutdown).
    package func flush() {
        batcher.flush()
        auditBatcher.flush()
    }

    private func upgrade(_ request: HTTPRequest, peer: String, audit: Bool, _ decision: WebSocketUpgradeDecision) {
        let address = options.trustProxyHeaders ? (ForwardedAddress.first(in: request) ?? peer) : peer
        let host = Admission.host(of: address)
        if let refusal = admission.admit(host, nowMs: loop.nowMilliseconds) {
            metrics.connectionsRefused[refusal.rawValue, default: 0] += 1
            decision.reject(Admission.response(for: refusal))
            return
        }
        // unowned, not weak: the Ingestion lives as long as the service, and a
        // weakly referenced object pays for a side table on every retain and
        // release, which the per-message path does on it.
        peers.create(ipAddress: address, audit: audit) { [unowned self] result in
            switch result {
            case .success(let peerConnectionID):
                let upgraded = decision.accept { socket in
                    let connection = TelemetryConnection(ingestion: self, peerConnectionID: peerConnectionID, ipAddress: address, host: host, audit: audit)
                    connection.socket = socket
                    socket.delegate = connection
                    self.connections[ObjectIdentifier(connection)] = connection
                    self.metrics.nodesConnected += 1
                    if self.budget.isOverLimit { socket.pauseReading(.backpressure) }
                }
                if !upgraded { self.admission.release(host) } // the client left while its row was made
            case .failure(let error):
                self.admission.release(host)
                self.metrics.upgradesRefused += 1
                self.logger.warning("refusing a node: cannot record its connection", metadata: ["error": "\(error)"])
                decision.reject(.error(503, "the database is unavailable; cannot record this connection, retry later"))
            }
        }
    }

    func connectionClosed(_ connection: TelemetryConnection) {
        connections[ObjectIdentifier(connection)] = nil
        admission.release(connection.host)
        metrics.nodesDropped += 1
    }

    var nowMilliseconds: UInt64 { loop.nowMilliseconds }

    func newRateMeter() -> DataRateMeter { admission.newRateMeter() }

    /// A connection went over INGEST_MAX_BYTES_PER_S: close it with 1008
    /// (policy violation) and refuse its address for a while.
    func rateExceeded(_ connection: TelemetryConnection, bytesPerSecond: Int) {
        let blockedMs = admission.rateExceeded(by: connection.host, nowMs: loop.nowMilliseconds)
        metrics.rateLimitCloses += 1
        logger.warning("closing a telemetry connection over the data rate limit; blocking its address", metadata: [
            "peer": "\(connection.ipAddress)", "bytes_per_s": "\(bytesPerSecond)",
            "limit": "\(options.admission.maxBytesPerSecond)", "blocked_s": "\(blockedMs / 1000)",
        ])
        connection.socket?.fail(code: 1008, reason: "data rate limit exceeded")
    }

    /// Pre-parses one message, growing the scratch buffer when a wrapped
    /// message does not fit.
    func preparse(_ payload: UnsafeRawBufferPointer, into message: inout ts_json_message) -> Int32 {
        let data = payload.baseAddress?.assumingMemoryBound(to: CChar.self)
        var needed = 0
        var status = ts_json_preparse(data, payload.count, &scratch, scratch.count, &needed, &message)
        if status == TS_JSON_ENOSPC.rawValue {
            scratch = Array(repeating: 0, count: needed)
            status = ts_json_preparse(data, payload.count, &scratch, scratch.count, &needed, &message)
        }
        return status
    }

    /// Rejections are logged at debug level, at most one line a second with
    /// a count of the others, so a misbehaving node cannot flood the log.
    func logRejection(_ reason: RejectReason, ipAddress: String, size: Int) {
        rejectionsSinceLog += 1
        let now = loop.nowMilliseconds
        guard now &- lastRejectionLogMs >= 1000 else { return }
        logger.debug("telemetry message rejected", metadata: [
            "reason": "\(reason.rawValue)", "peer": "\(ipAddress)", "bytes": "\(size)",
            "rejected_since_last_line": "\(rejectionsSinceLog)",
        ])
        lastRejectionLogMs = now
        rejectionsSinceLog = 0
    }

    private func applyBackpressure(_ over: Bool) {
        let now = loop.nowMilliseconds
        let pausedMs = pausedSinceMs.map { now &- $0 } ?? 0
        if over {
            pausedSinceMs = now
            logger.warning("buffered rows exceed MAX_BUFFERED_BYTES; pausing node sockets", metadata: ["bytes": "\(budget.bytes)"])
        } else if let since = pausedSinceMs {
            metrics.backpressurePausedMs += now &- since
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
}
