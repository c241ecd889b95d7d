@testable import AnalyticsServer
import Foundation
import Prometheus
import PostgresClient
import Reactor
@testable import TestSupport
import XCTest

/// MessageBatcher's three rules, checked on what PostgreSQL committed: a
/// batch is handed on when it holds DB_BATCH_SIZE rows, or DB_BATCH_BYTES
/// bytes, or its oldest row has waited DB_SAVE_LATENCY_MS, whichever comes
/// first. The batches go through a real BatchWriter and write pool to the
/// test database; each batch is one statement, so the rows it inserted
/// share the transaction id (xmin) of its ingest_batches row.
final class MessageBatcherTests: StorageTestCase {
    private var pool: PGPool!
    private var queue: StatementQueue!
    private var budget: BufferBudget!
    private var writer: BatchWriter!
    private var batchers: [MessageBatcher] = []
    private var pressureChanges: [Bool] = []
    private var drained = 0

    /// A document whose row costs exactly 100 bytes in a batch: int4 element
    /// 8, timestamp element 12, jsonb element 4 + 1 + 71, document offset 4.
    private static let hundredByteRow = "{\"msg\":\"" + String(repeating: "x", count: 61) + "\"}"

    override func setUpWithError() throws {
        try super.setUpWithError()
        XCTAssertEqual(MessageBatcherTests.hundredByteRow.utf8.count, 71)
        try migrate()
        try startWriter(budgetLimit: 1 << 30)
    }

    override func tearDown() {
        batchers = []
        writer = nil
        queue = nil
        pool?.close()
        pool = nil
        super.tearDown()
    }

    /// The write pool (one pipelined connection, as DB_POOL_SIZE=1 with
    /// DB_MAX_BATCHES_IN_FLIGHT=4) and the writer behind every batcher.
    private func startWriter(budgetLimit: Int) throws {
        pool?.close()
        pool = PGPool(loop: loop, conninfo: database.url, size: 1, pipelined: true, name: "write", logger: logger)
        queue = StatementQueue(pool: pool, maxInFlightPerConnection: 4)
        pool.start()
        LoopRunner.run(loop) { self.pool.readyCount == 1 }
        budget = BufferBudget(limit: budgetLimit)
        budget.onPressureChange = { [unowned self] in self.pressureChanges.append($0) }
        writer = BatchWriter(loop: loop, queue: queue, budget: budget,
                             histograms: BatchHistograms(registry: PrometheusCollectorRegistry()), logger: logger)
        writer.onDrained = { [unowned self] in self.drained += 1 }
    }

    private func batcher(_ instanceID: String, batchSize: Int = 10_000, batchBytes: Int = 1 << 30,
                         maxLatencyMs: UInt64 = 600_000, audit: Bool = false) -> MessageBatcher {
        let batcher = MessageBatcher(loop: loop, audit: audit,
                                     limits: .init(rows: batchSize, bytes: batchBytes, latencyMs: maxLatencyMs),
                                     writer: writer, budget: budget, batchIDPrefix: instanceID)
        batchers.append(batcher)
        return batcher
    }

    private func append(_ batcher: MessageBatcher, _ peers: ClosedRange<Int32>, document: String = MessageBatcherTests.hundredByteRow) {
        for peer in peers {
            Array(document.utf8).withUnsafeBytes {
                batcher.append(peerConnectionID: peer, createdAtUnixMicros: 1_793_536_496_000_000 + Int64(peer), document: $0)
            }
        }
    }

    /// Runs the loop until every batch handed to the writer is committed.
    private func awaitWrites(file: StaticString = #filePath, line: UInt = #line) {
        LoopRunner.run(loop, file: file, line: line) { self.writer.outstandingBatches == 0 }
    }

    /// Each committed batch, in commit order: its id and the peer ids of its
    /// rows in insert order, e.g. "inst-1: 1,2,3".
    private func committed(file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        try database.query("""
            SELECT b.id || ': ' || string_agg(l.peer_connection_id::text, ',' ORDER BY l.id)
            FROM ingest_batches b JOIN tetcore_logs l ON l.xmin = b.xmin
            GROUP BY b.id ORDER BY min(l.id)
            """).map { $0[0] ?? "NULL" }
    }

    private func peers(_ range: ClosedRange<Int32>) -> String {
        range.map(String.init).joined(separator: ",")
    }

    // MARK: DB_BATCH_SIZE

    func testABatchIsHandedOnWhenItHoldsBatchSizeRows() throws {
        let rows = batcher("inst", batchSize: 3)
        append(rows, 1...2)
        XCTAssertEqual(writer.outstandingBatches, 0)
        XCTAssertEqual(rows.openRowCount, 2)
        append(rows, 3...3)
        XCTAssertEqual(writer.outstandingBatches, 1, "handed on at once, not at the next loop iteration")
        XCTAssertEqual(rows.openRowCount, 0)
        append(rows, 4...7)
        XCTAssertEqual(writer.outstandingBatches, 2)
        XCTAssertEqual(rows.openRowCount, 1)
        awaitWrites()
        XCTAssertEqual(try committed(), ["inst-1: 1,2,3", "inst-2: 4,5,6"])
        XCTAssertEqual(writer.counters.batchesWritten.value, 2)
        XCTAssertEqual(writer.counters.rowsWritten.value, 6)
        XCTAssertEqual(rows.openRowCount, 1, "the seventh row waits for more")

        rows.flush()
        awaitWrites()
        XCTAssertEqual(try committed(), ["inst-1: 1,2,3", "inst-2: 4,5,6", "inst-3: 7"])
        XCTAssertEqual(rows.openRowCount, 0)
    }

    func testABatchSizeOfOneWritesEveryRowAlone() throws {
        let rows = batcher("one", batchSize: 1)
        append(rows, 1...3)
        XCTAssertEqual(writer.outstandingBatches, 3)
        awaitWrites()
        XCTAssertEqual(try committed(), ["one-1: 1", "one-2: 2", "one-3: 3"])
    }

    // MARK: DB_BATCH_BYTES

    func testABatchIsHandedOnOnceItsBytesReachBatchBytes() throws {
        // 60 bytes of array headers and 100 per row: three rows make 360.
        let exact = batcher("exact", batchBytes: 360)
        let over = batcher("over", batchBytes: 361)
        append(exact, 1...8)
        append(over, 11...18)
        XCTAssertEqual(exact.openRowCount, 2)
        XCTAssertEqual(over.openRowCount, 0)
        awaitWrites()
        XCTAssertEqual(try committed(), [
            "exact-1: 1,2,3", "exact-2: 4,5,6",
            // The row that crosses the limit goes in: a batch may exceed it by one row.
            "over-1: 11,12,13,14", "over-2: 15,16,17,18",
        ])

        // A row larger than the limit on its own: it joins the open rows, or goes alone.
        let large = "{\"msg\":\"" + String(repeating: "y", count: 400) + "\"}"
        append(exact, 9...9, document: large)
        append(exact, 10...10, document: large)
        XCTAssertEqual(exact.openRowCount, 0)
        awaitWrites()
        XCTAssertEqual(Array(try committed().suffix(2)), ["exact-3: 7,8,9", "exact-4: 10"])
    }

    func testSizeAndBytesWhicheverComesFirst() throws {
        let rows = batcher("both", batchSize: 4, batchBytes: 360)
        append(rows, 1...3)                                   // bytes first: 360
        append(rows, 4...5, document: "{}")                   // 2 small rows
        append(rows, 6...7, document: "{}")                   // size first: 4 rows, 60 + 4 * 31
        awaitWrites()
        XCTAssertEqual(try committed(), ["both-1: 1,2,3", "both-2: 4,5,6,7"])
    }

    // MARK: DB_SAVE_LATENCY_MS

    func testABatchThatIsNotFullIsHandedOnWhenItsFirstRowHasWaitedTheLatency() throws {
        let rows = batcher("late", maxLatencyMs: 100)
        let appendedAt = loop.nowMilliseconds
        append(rows, 1...2)
        XCTAssertEqual(writer.outstandingBatches, 0, "two rows are not a full batch")
        XCTAssertEqual(rows.openRowCount, 2)
        var handedOnAt: UInt64 = 0
        LoopRunner.run(loop) {
            if handedOnAt == 0, self.writer.outstandingBatches + self.writer.counters.batchesWritten.value > 0 { handedOnAt = self.loop.nowMilliseconds }
            return handedOnAt != 0
        }
        XCTAssertGreaterThanOrEqual(handedOnAt - appendedAt, 100)
        XCTAssertEqual(rows.openRowCount, 0)
        awaitWrites()
        XCTAssertEqual(try committed(), ["late-1: 1,2"])
    }

    func testTheLatencyRunsFromTheOldestRowNotTheNewest() throws {
        // Rows keep arriving every 10 ms, well within the 150 ms latency: a
        // timer restarted by each row would never fire while they do.
        let rows = batcher("steady", maxLatencyMs: 150)
        var next: Int32 = 1
        let appender = LoopTimer(loop: loop)
        let startedAt = loop.nowMilliseconds
        append(rows, next...next)
        appender.start(after: 10, repeat: 10) { [unowned self] in
            next += 1
            self.append(rows, next...next)
        }
        LoopRunner.run(loop) { self.writer.outstandingBatches + self.writer.counters.batchesWritten.value > 0 }
        let firstBatchAt = loop.nowMilliseconds
        appender.stop()
        XCTAssertGreaterThanOrEqual(firstBatchAt - startedAt, 150)
        rows.flush()
        awaitWrites()
        // The first batch: rows 1...k, k > 1 (rows arrived while the first
        // one waited); the rest, if any arrived after it, in the second.
        let batches = try committed()
        let k = Int32(batches.first?.split(separator: ",").count ?? 0)
        XCTAssertGreaterThan(k, 1, "\(batches)")
        guard k > 1 else { return }
        XCTAssertEqual(batches, ["steady-1: " + peers(1...k)] + (k < next ? ["steady-2: " + peers((k + 1)...next)] : []))
    }

    func testAFullBatchStopsTheLatencyTimerAndTheNextBatchStartsItsOwn() throws {
        let rows = batcher("timer", batchSize: 2, maxLatencyMs: 50)
        append(rows, 1...2)
        awaitWrites()
        // Long past the first batch's deadline: no empty or extra batch.
        LoopRunner.run(loop, for: 0.2)
        XCTAssertEqual(writer.counters.batchesWritten.value, 1)
        XCTAssertEqual(writer.outstandingBatches, 0)

        let appendedAt = loop.nowMilliseconds
        append(rows, 3...3)
        var handedOnAt: UInt64 = 0
        LoopRunner.run(loop) {
            if handedOnAt == 0, self.writer.outstandingBatches + self.writer.counters.batchesWritten.value > 1 { handedOnAt = self.loop.nowMilliseconds }
            return handedOnAt != 0
        }
        XCTAssertGreaterThanOrEqual(handedOnAt - appendedAt, 50, "the timer started with the new batch's first row")
        awaitWrites()
        XCTAssertEqual(try committed(), ["timer-1: 1,2", "timer-2: 3"], "the batch ids count on without a gap")
    }

    func testFlushingWithNoOpenBatchWritesNothing() throws {
        let rows = batcher("idle", maxLatencyMs: 20)
        rows.flush()
        XCTAssertEqual(writer.outstandingBatches, 0)
        LoopRunner.run(loop, for: 0.1)
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM ingest_batches"), "0")
        append(rows, 1...1)
        LoopRunner.run(loop) { self.writer.counters.batchesWritten.value == 1 }
        XCTAssertEqual(try committed(), ["idle-1: 1"])
    }

    // MARK: Memory accounting and the audit flag

    func testTheBudgetCountsEachOpenBatchWithItsHeadersUntilItIsCommitted() throws {
        try startWriter(budgetLimit: 200)
        let rows = batcher("budget", batchSize: 2)
        append(rows, 1...1)
        XCTAssertEqual(budget.bytes, 160, "60 bytes of headers and one 100-byte row")
        XCTAssertEqual(pressureChanges, [])
        append(rows, 2...2)
        XCTAssertEqual(budget.bytes, 260, "still held: handed on, not committed")
        XCTAssertEqual(pressureChanges, [true], "over the 200-byte limit")
        awaitWrites()
        XCTAssertEqual(budget.bytes, 0)
        XCTAssertEqual(pressureChanges, [true, false])
        XCTAssertEqual(drained, 1)
        XCTAssertEqual(try committed(), ["budget-1: 1,2"])
    }

    func testAnAuditBatcherStoresItsRowsAsAuditRows() throws {
        let live = batcher("live", batchSize: 2)
        let audit = batcher("audit", batchSize: 2, audit: true)
        append(live, 1...2)
        append(audit, 3...4)
        awaitWrites()
        XCTAssertEqual(try committed(), ["live-1: 1,2", "audit-1: 3,4"])
        XCTAssertEqual(try database.query("SELECT peer_connection_id, audit, tableoid::regclass FROM tetcore_logs ORDER BY id")
            .map { $0.map { $0 ?? "NULL" }.joined(separator: "|") },
            ["1|f|tetcore_logs_live_default", "2|f|tetcore_logs_live_default",
             "3|t|tetcore_logs_audit", "4|t|tetcore_logs_audit"])
    }

    // MARK: What the writer does with a batch PostgreSQL refuses

    func testARowPostgreSQLRefusesIsIsolatedByHalvingAndTheRestIsStored() throws {
        let rows = batcher("bad", batchSize: 4)
        append(rows, 1...2)
        // jsonb refuses \u0000 (SQLSTATE 22P05, a data exception).
        append(rows, 3...3, document: "{\"msg\":\"\\u0000\"}")
        append(rows, 4...4)
        awaitWrites()
        // bad-1 fails; bad-1a (rows 1, 2) commits; bad-1b fails and splits
        // into bad-1ba (row 3, rejected) and bad-1bb (row 4).
        XCTAssertEqual(try committed(), ["bad-1a: 1,2", "bad-1bb: 4"])
        XCTAssertEqual(writer.counters.rowsWritten.value, 3)
        XCTAssertEqual(writer.counters.rowsRejected.value, 1)
        XCTAssertEqual(writer.counters.batchesWritten.value, 2)
        XCTAssertEqual(budget.bytes, 0, "every half's bytes were given back")
        XCTAssertEqual(drained, 1)
        let warning = logs.records.first { $0.message == "row rejected by PostgreSQL" }
        XCTAssertEqual(warning?.metadata["peer_connection_id"], "3")
        XCTAssertEqual(warning?.metadata["sqlstate"], "22P05")
    }
}
