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

    public init() {}

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
