// Metrics: counters and gauges of the running server.
//
// Hot-path counters are plain integers owned by the loop that updates
// them (no lock, no atomic per message); the /metrics exposition reads
// them on the same loop.

/// Why a telemetry message was not stored.
public enum RejectReason: String, CaseIterable {
    case invalidJSON = "invalid_json"
    case notObject = "not_object"
    case badTimestamp = "bad_ts"
    case badID = "bad_id"
    case tooManyNodeIDs = "too_many_ids"
    case tooLarge = "too_large"
}

public final class IngestionMetrics {
    /// Data messages received from nodes (pings and pongs excluded).
    public internal(set) var messagesReceived = 0
    public internal(set) var bytesReceived = 0
    public internal(set) var rejected: [RejectReason: Int] = [:]
    public internal(set) var nodesConnected = 0
    public internal(set) var nodesDropped = 0
    public internal(set) var rowsWritten = 0
    public internal(set) var rowsRejectedByDatabase = 0
    public internal(set) var batchesWritten = 0
    public internal(set) var batchRetries = 0
    public internal(set) var upgradesRefused = 0
    /// Milliseconds node sockets spent paused by backpressure.
    public internal(set) var backpressurePausedMs: UInt64 = 0
    public internal(set) var lastBatchWriteNanoseconds: UInt64 = 0
    /// Age of a batch's oldest row at commit (message-to-commit latency).
    public internal(set) var lastBatchAgeMilliseconds: UInt64 = 0

    /// HTTP requests answered, except WebSocket upgrades and /metrics.
    public internal(set) var requests = 0
    public internal(set) var closes: [UInt16: Int] = [:]

    /// /feed clients accepted and gone; those disconnected for reading too slowly.
    public internal(set) var feedsConnected = 0
    public internal(set) var feedsDisconnected = 0
    public internal(set) var feedClientsTooSlow = 0
    /// Feed cache refreshes given up after 4 x CACHE_UPDATE_TIMEOUT_S.
    public internal(set) var feedRefreshesAbandoned = 0

    public init() {}

    func recordResponse(path: String, status: Int) {
        if status != 101 && path != "/metrics" { requests += 1 }
    }

    func recordClose(code: UInt16) {
        closes[code, default: 0] += 1
    }

    func reject(_ reason: RejectReason) {
        rejected[reason, default: 0] += 1
    }

    func batchCommitted(rows: Int, writeNanoseconds: UInt64, ageMilliseconds: UInt64) {
        rowsWritten += rows
        batchesWritten += 1
        lastBatchWriteNanoseconds = writeNanoseconds
        lastBatchAgeMilliseconds = ageMilliseconds
    }
}

extension IngestionMetrics {
    /// The original's family names first (dashboards and alerts use them),
    /// then the pipeline's own.
    func write(to exposition: inout MetricsExposition) {
        exposition.counter("tetcore_message_count", "Telemetry data messages received (pings and pongs excluded).", messagesReceived)
        exposition.counter("tetcore_bytes_received", "Bytes of telemetry messages received.", bytesReceived)
        exposition.counter("nodes_connected_count", "Telemetry connections accepted.", nodesConnected)
        exposition.counter("nodes_dropped_count", "Telemetry connections ended.", nodesDropped)
        exposition.counter("requests", "HTTP requests to routes other than WebSockets and /metrics.", requests)
        exposition.counter("tetcore_rows_written_total", "Log rows committed to PostgreSQL.", rowsWritten)
        exposition.counter("tetcore_rows_rejected_total", "Log rows PostgreSQL refused (logged with their connection).", rowsRejectedByDatabase)
        exposition.counter("tetcore_batches_written_total", "Insert batches committed.", batchesWritten)
        exposition.counter("tetcore_batch_retries_total", "Batch sends retried after a lost connection or a database error.", batchRetries)
        exposition.labelledCounter("tetcore_messages_rejected_total", "Messages not stored, by reason.", label: "reason",
                                   RejectReason.allCases.map { ($0.rawValue, rejected[$0] ?? 0) })
        exposition.labelledCounter("tetcore_websocket_closes_total", "WebSocket connections ended, by close code.", label: "code",
                                   closes.sorted { $0.key < $1.key }.map { (String($0.key), $0.value) })
        exposition.counter("tetcore_upgrades_refused_total", "Telemetry upgrades refused with 503 (database unavailable).", upgradesRefused)
        exposition.counter("tetcore_backpressure_paused_milliseconds_total", "Time node sockets spent paused by backpressure.",
                           Int(backpressurePausedMs))
        exposition.counter("feeds_connected", "Feed (/feed) WebSocket connections accepted.", feedsConnected)
        exposition.counter("feeds_disconnected", "Feed WebSocket connections ended.", feedsDisconnected)
        exposition.counter("tetcore_feed_clients_too_slow_total", "Feed clients disconnected (1008) for falling behind.", feedClientsTooSlow)
        exposition.counter("tetcore_feed_refreshes_abandoned_total", "Feed cache refreshes abandoned after 4 x CACHE_UPDATE_TIMEOUT_S.",
                           feedRefreshesAbandoned)
    }
}
