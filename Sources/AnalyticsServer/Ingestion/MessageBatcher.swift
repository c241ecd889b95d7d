import Reactor
/// Collects rows into the open batch and hands it to the writer when it
/// holds DB_BATCH_SIZE rows or DB_BATCH_BYTES bytes, or its oldest row has
/// waited DB_SAVE_LATENCY_MS, whichever comes first.
final class MessageBatcher {
    private let loop: EventLoop
    private let audit: Bool
    private let batchSize: Int
    private let batchBytes: Int
    private let maxLatencyMs: UInt64
    private let writer: BatchWriter
    private let budget: BufferBudget
    private let latencyTimer: LoopTimer
    private let instanceID: String
    private var sequence: UInt64 = 0
    private var open: MessageBatch?

    init(loop: EventLoop, audit: Bool, batchSize: Int, batchBytes: Int, maxLatencyMs: UInt64, writer: BatchWriter, budget: BufferBudget,
         instanceID: String) {
        self.loop = loop
        self.audit = audit
        self.batchSize = batchSize
        self.batchBytes = batchBytes
        self.maxLatencyMs = maxLatencyMs
        self.writer = writer
        self.budget = budget
        self.instanceID = instanceID
        latencyTimer = LoopTimer(loop: loop)
    }

    var openRowCount: Int { open?.count ?? 0 }

    func append(peerConnectionID: Int32, createdAtUnixMicros: Int64, document: UnsafeRawBufferPointer) {
        // Read before a new batch exists, so its array headers count too:
        // the writer gives back the whole byteCount when it commits.
        let before = open?.byteCount ?? 0
        if open == nil {
            sequence += 1
            open = MessageBatch(id: "\(instanceID)-\(sequence)", audit: audit, createdAtMs: loop.nowMilliseconds, capacity: batchSize)
            latencyTimer.start(after: maxLatencyMs) { [unowned self] in self.flush() }
        }
        open?.append(peerConnectionID: peerConnectionID, createdAtUnixMicros: createdAtUnixMicros, document: document)
        let after = open?.byteCount ?? 0
        budget.add(after - before)
        if openRowCount >= batchSize || after >= batchBytes { flush() }
    }

    /// Hands the open batch, if any, to the writer.
    func flush() {
        latencyTimer.stop()
        guard var batch = open else { return }
        open = nil
        batch.seal()
        writer.write(batch)
    }
}
