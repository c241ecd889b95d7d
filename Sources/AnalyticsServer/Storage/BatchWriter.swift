import Logging
import Reactor
import PostgresClient

/// Writes sealed batches and keeps each one in memory until PostgreSQL has
/// committed it.
///
/// - A lost connection leaves the outcome unknown: the batch is sent again,
///   and its id (recorded in ingest_batches by the same statement) makes
///   PostgreSQL skip it if the first attempt did commit. Exactly once.
/// - A data error (SQLSTATE class 22, e.g. a \u0000 that jsonb refuses)
///   comes from some row: the batch is split in halves until the bad row is
///   alone, so it is the only row rejected.
/// - Any other error (disk full, a missing table, a server shutting down)
///   is not the rows' fault: the batch waits and is retried with backoff,
///   never dropped.
///
/// With a disk spool (SPOOL_DIR), the writer holds its batches itself and
/// hands PostgreSQL only as many as the pipelines take; what waits can go
/// to disk (BatchWriter+Spool.swift).
final class BatchWriter {
    /// What the writer did, for /metrics.
    final class Counters: CounterSet {
        var rowsWritten = EventCounter(.init(.counter, "tetcore_rows_written_total",
                                             help: "Telemetry rows committed to PostgreSQL, each once."))
        var rowsRejected = EventCounter(.init(.counter, "tetcore_rows_rejected_total",
                                              help: "Telemetry rows PostgreSQL refused (a value jsonb cannot hold); logged."))
        var batchesWritten = EventCounter(.init(.counter, "tetcore_batches_written_total", help: "Insert batches committed."))
        var batchRetries = EventCounter(.init(.counter, "tetcore_batch_retries_total",
                                              help: "Batch sends repeated after a lost connection or a database error."))
        /// Rows whose batch has left memory; not a family itself (see
        /// Ingestion.bufferedRows).
        var rowsReleased = 0
    }

    /// A network state's row also gets the hashes of its peerset's peer
    /// ids, which /reputation/{peer_id} reads instead of the JSON
    /// (Migrations/0012). Each write connection prepares it once
    /// (`insertStatementName`): parsing and planning it for every batch
    /// cost PostgreSQL about 0.2 ms a batch.
    static let insertStatementName = "tetcore_insert_batch"
    /// SQLSTATE 26000: the session has no prepared statement of that name.
    static let undefinedPreparedStatement = "26000"
    static let insertStatement = """
        WITH marker AS (INSERT INTO ingest_batches (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id) \
        INSERT INTO tetcore_logs (peer_connection_id, created_at, logs, audit, peerset_hashes) \
        SELECT rows.peer_connection_id, rows.created_at, rows.logs, $5::bool, \
        CASE WHEN rows.logs->>'msg' = 'system.network_state' THEN tetcore_peerset_hashes(rows.logs) END \
        FROM unnest($2::int4[], $3::timestamp[], $4::jsonb[]) AS rows (peer_connection_id, created_at, logs) \
        WHERE EXISTS (SELECT 1 FROM marker)
        """

    let loop: EventLoop
    let queue: StatementQueue
    let budget: BufferBudget
    let counters = Counters()
    private let histograms: BatchHistograms
    let logger: Logger
    private let retryTimer: LoopTimer
    private var waitingForRetry: [MessageBatch] = []
    private var retryDelayMs: UInt64 = 0
    /// Whether batches go as the prepared insert; off for good once a
    /// session turns out not to have it (see `completed`).
    private var preparesInsert = true
    /// The spool's state (nil: SPOOL_DIR unset, every batch is sent at once).
    var spooling: Spooling?
    let spoolCounters = SpoolCounters()
    /// Batches sent and not yet answered.
    var submitted = 0
    /// Arrays of batches that have left memory, for the batchers' next
    /// batches (see MessageBatch.Storage). At most `spareLimit` are kept, of
    /// at most `spareBytesLimit` each, so an idle shard holds a few MiB at
    /// most.
    private var spareStorage: [MessageBatch.Storage] = []
    static let spareLimit = 4
    private let spareBytesLimit: Int
    /// Batches handed to the writer and not yet committed or rejected.
    private(set) var outstandingBatches = 0
    var onDrained: (() -> Void)?
    /// A batch committed (the feed's low-latency path for this instance's rows).
    var onCommitted: (() -> Void)?

    /// `batchBytes`: DB_BATCH_BYTES, the most a batch's arrays hold for long.
    init(loop: EventLoop, queue: StatementQueue, budget: BufferBudget, histograms: BatchHistograms, logger: Logger,
         batchBytes: Int = 4 << 20) {
        self.loop = loop
        spareBytesLimit = 2 * batchBytes
        self.queue = queue
        self.budget = budget
        self.histograms = histograms
        self.logger = logger
        retryTimer = LoopTimer(loop: loop)
    }

    /// Takes a sealed batch whose bytes the budget already counts.
    func write(_ batch: MessageBatch) {
        outstandingBatches += 1
        if spooling != nil {
            hold(batch)
        } else {
            send(batch)
        }
    }

    func send(_ batch: MessageBatch) {
        submitted += 1
        let sentAt = EventLoop.monotonicNanoseconds
        var parameters = batch.parameters()
        parameters.insert(.text(batch.id), at: 0)
        let job = StatementQueue.Job(sql: BatchWriter.insertStatement, parameters: parameters,
                                     preparedAs: preparesInsert ? BatchWriter.insertStatementName : nil) { [weak self] result in
            self?.completed(batch, sentAt: sentAt, result: result)
        }
        queue.submit(job, priority: .bulk)
    }

    private func completed(_ batch: MessageBatch, sentAt: UInt64, result: Result<PGRows, PGError>) {
        submitted -= 1
        defer { pump() }
        switch result {
        case .success(let result):
            retryDelayMs = 0
            // The rows the statement inserted: fewer than the batch when a
            // trigger or rule kept some out; none when PostgreSQL found the
            // batch's marker. After a lost answer that means the lost
            // attempt committed them, and was never counted: count them now.
            let inserted = result.affectedRows == 0 && batch.answerLost ? batch.count : result.affectedRows
            counters.rowsWritten += inserted
            counters.batchesWritten += 1
            histograms.observe(rows: batch.count, writeNanoseconds: EventLoop.monotonicNanoseconds - sentAt,
                               ageMilliseconds: loop.nowMilliseconds &- batch.createdAtMs)
            finished(batch)
            onCommitted?()
        case .failure(let error) where error.kind == .connection:
            var again = batch
            again.answerLost = true
            sendAgain(again)
        case .failure(let error) where error.sqlState == BatchWriter.undefinedPreparedStatement:
            // The session had no prepared insert: its prepare failed (logged
            // by the connection), or a connection pooler in transaction mode
            // ran the execution on another session than the prepare. Sent
            // unprepared from then on, it costs PostgreSQL a parse and a
            // plan a batch and can no longer fail this way.
            if preparesInsert {
                preparesInsert = false
                logger.warning("a write connection had no prepared insert; batches go unprepared from now on",
                               metadata: ["error": "\(error.message)"])
            }
            sendAgain(batch)
        case .failure(let error) where error.isDataError && batch.count > 1:
            let (first, second) = batch.halves()
            // The batch becomes two; `finished` runs for each half.
            if let position = batch.spooledAt {
                spooling?.spool.split(position)
            } else {
                outstandingBatches += 1
            }
            budget.add(first.byteCount + second.byteCount)
            finishedWithoutCommit(batch)
            send(first)
            send(second)
        case .failure(let error) where error.isDataError:
            counters.rowsRejected += 1
            logger.warning("row rejected by PostgreSQL", metadata: [
                "peer_connection_id": "\(batch.peerConnectionID(ofRow: 0))",
                "sqlstate": "\(error.sqlState ?? "?")", "error": "\(error.message)",
            ])
            finished(batch)
        case .failure(let error):
            counters.batchRetries += 1
            retryDelayMs = min(max(retryDelayMs * 2, 250), 30_000)
            logger.warning("batch write failed; keeping the rows and retrying", metadata: [
                "rows": "\(batch.count)", "retry_in_ms": "\(retryDelayMs)", "error": "\(error)",
            ])
            if spooling != nil { return retryLater(batch, afterMs: retryDelayMs) }
            waitingForRetry.append(batch)
            if !retryTimer.isActive {
                retryTimer.start(after: retryDelayMs) { [weak self] in self?.retryWaiting() }
            }
        }
    }

    /// Sends a batch again at once (through the spool's queue with SPOOL_DIR).
    private func sendAgain(_ batch: MessageBatch) {
        counters.batchRetries += 1
        if spooling != nil {
            retryLater(batch, afterMs: 0)
        } else {
            send(batch)
        }
    }

    private func retryWaiting() {
        let batches = waitingForRetry
        waitingForRetry = []
        batches.forEach(send)
    }

    /// The batch left memory: committed (by this attempt or an earlier
    /// one), its single row rejected, or synced to the spool. A batch read
    /// back from the spool is the spool's to account for: its rows were
    /// counted released when they were spooled.
    func finished(_ batch: MessageBatch) {
        let storage = batch.storage
        if spareStorage.count < BatchWriter.spareLimit && storage.capacity <= spareBytesLimit {
            spareStorage.append(storage)
        }
        finishedWithoutCommit(batch)
        if let position = batch.spooledAt {
            spooling?.spool.finished(position, rows: batch.count)
            return
        }
        counters.rowsReleased += batch.count
        outstandingBatches -= 1
        if outstandingBatches == 0 { onDrained?() }
    }

    /// Arrays to build a new batch in, when a finished batch left some.
    func takeSpareStorage() -> MessageBatch.Storage? {
        spareStorage.popLast()
    }

    func finishedWithoutCommit(_ batch: MessageBatch) {
        budget.remove(batch.byteCount)
    }
}

extension PGError {
    /// SQLSTATE class 22 (data exception): the statement failed because of
    /// a value, so splitting the batch isolates the row responsible.
    var isDataError: Bool {
        kind == .query && (sqlState?.hasPrefix("22") ?? false)
    }
}
