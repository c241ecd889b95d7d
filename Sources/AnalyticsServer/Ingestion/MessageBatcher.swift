import Reactor
/// Collects rows into the open batch and hands it to the writer when it
/// holds DB_BATCH_SIZE rows or DB_BATCH_BYTES bytes, or its oldest row has
/// waited DB_SAVE_LATENCY_MS, whichever comes first.
final class MessageBatcher {
    /// When the open batch is handed on (the DB_BATCH_* settings).
    struct Limits {
        /// DB_BATCH_SIZE.
        var rows: Int
        /// DB_BATCH_BYTES.
        var bytes: Int
        /// DB_SAVE_LATENCY_MS.
        var latencyMs: UInt64
    }

    private let loop: EventLoop
    private let audit: Bool
    private let limits: Limits
    private let writer: BatchWriter
    private let budget: BufferBudget
    private let latencyTimer: LoopTimer
    private let batchIDPrefix: String
    private var sequence: UInt64 = 0
    private var open: MessageBatch?
    /// JSON bytes of the last batch handed on, plus an eighth: the room a
    /// new batch reserves for its documents. While PostgreSQL lags, new
    /// batches cannot reuse committed ones' arrays (none have committed
    /// yet), and an array left to grow by doubling copies itself each time
    /// into freshly mapped pages (benchmarks/ingest.py: 130 minor page
    /// faults per 1,000 messages without this, 80 with it).
    private var expectedDocumentBytes = 0

    init(loop: EventLoop, audit: Bool, limits: Limits, writer: BatchWriter, budget: BufferBudget, batchIDPrefix: String) {
        self.loop = loop
        self.audit = audit
        self.limits = limits
        self.writer = writer
        self.budget = budget
        self.batchIDPrefix = batchIDPrefix
        latencyTimer = LoopTimer(loop: loop)
    }

    var openRowCount: Int { open?.count ?? 0 }

    func append(peerConnectionID: Int32, createdAtUnixMicros: Int64, document: UnsafeRawBufferPointer) {
        // Read before a new batch exists, so its array headers count too:
        // the writer gives back the whole byteCount when it commits.
        let before = open?.byteCount ?? 0
        if open == nil {
            sequence += 1
            open = MessageBatch(id: "\(batchIDPrefix)-\(sequence)", audit: audit, createdAtMs: loop.nowMilliseconds,
                                capacity: limits.rows, documentBytes: expectedDocumentBytes,
                                reusing: writer.takeSpareStorage())
            latencyTimer.start(after: limits.latencyMs) { [unowned self] in self.flush() }
        }
        open?.append(peerConnectionID: peerConnectionID, createdAtUnixMicros: createdAtUnixMicros, document: document)
        let after = open?.byteCount ?? 0
        budget.add(after - before)
        if openRowCount >= limits.rows || after >= limits.bytes { flush() }
    }

    /// Hands the open batch, if any, to the writer.
    func flush() {
        latencyTimer.stop()
        guard var batch = open else { return }
        open = nil
        expectedDocumentBytes = batch.documentBytes + batch.documentBytes / 8
        batch.seal()
        writer.write(batch)
    }
}
