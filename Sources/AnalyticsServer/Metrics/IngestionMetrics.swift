// Metrics: what /metrics tells about the running server.
//
// Hot-path counters are plain integers owned by the loop that updates
// them: no lock and no atomic per message. MetricsRegistry copies them
// into the swift-prometheus registry when /metrics is scraped, on the same
// loop, and renders the text exposition. Histograms are observed once per
// batch, never per message. Nothing here touches the database.

/// Why a telemetry message was not stored.
public enum RejectReason: String, CaseIterable {
    case invalidJSON = "invalid_json"
    case notObject = "not_object"
    case badTimestamp = "bad_ts"
    case badID = "bad_id"
    case tooManyNodeIDs = "too_many_ids"
    case tooLarge = "too_large"
}

/// The ingestion pipeline's counters, bumped on the loop that owns them.
public final class IngestionMetrics {
    /// Data messages received from nodes (pings and pongs excluded).
    public internal(set) var messagesReceived = 0
    public internal(set) var bytesReceived = 0
    public internal(set) var rejected: [RejectReason: Int] = [:]
    public internal(set) var nodesConnected = 0
    public internal(set) var nodesDropped = 0
    /// Rows handed to the batcher; less rows written and rejected, the rows
    /// buffered now.
    public internal(set) var rowsBatched = 0
    /// Rows the insert statements put in tetcore_logs, each once.
    public internal(set) var rowsWritten = 0
    public internal(set) var rowsRejectedByDatabase = 0
    /// Rows of committed batches that PostgreSQL did not insert (a trigger
    /// or rule kept them out).
    public internal(set) var rowsKeptOutByDatabase = 0
    public internal(set) var batchesWritten = 0
    public internal(set) var batchRetries = 0
    public internal(set) var upgradesRefused = 0
    /// Upgrades refused by admission (INGEST_ALLOW, blocks, connection limits), by reason.
    public internal(set) var connectionsRefused: [String: Int] = [:]
    public internal(set) var rateLimitCloses = 0
    /// Milliseconds node sockets spent paused by backpressure.
    public internal(set) var backpressurePausedMs: UInt64 = 0
    let batches: BatchHistograms

    init(batches: BatchHistograms) {
        self.batches = batches
    }

    /// Rows accepted and not yet committed or rejected by PostgreSQL.
    public var rowsBuffered: Int { rowsBatched - rowsWritten - rowsRejectedByDatabase - rowsKeptOutByDatabase }

    func reject(_ reason: RejectReason) {
        rejected[reason, default: 0] += 1
    }

    /// A WebSocket ended. 1009 is the code the server fails a connection
    /// with when a message is over WS_MAX_PAYLOAD: that message is rejected.
    func webSocketClosed(code: UInt16) {
        if code == 1009 { reject(.tooLarge) }
    }

    /// Once per committed batch of `rows`, of which the statement inserted
    /// `inserted`; a batch sent again after a lost connection is still
    /// committed (and counted) once.
    func batchCommitted(rows: Int, inserted: Int, writeNanoseconds: UInt64, ageMilliseconds: UInt64) {
        rowsWritten += inserted
        rowsKeptOutByDatabase += max(0, rows - inserted)
        batchesWritten += 1
        batches.observe(rows: rows, writeNanoseconds: writeNanoseconds, ageMilliseconds: ageMilliseconds)
    }
}
