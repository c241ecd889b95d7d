@testable import AnalyticsServer
import Foundation
import Logging
@testable import PostgresClient
@testable import Reactor
@testable import TestSupport
import XCTest

/// A telemetry connection's per-message rules, driven without a server or a
/// socket: messages go in through `receive`, rows come out in the test
/// database through a real batcher and writer.
final class TelemetryConnectionTests: StorageTestCase {
    private var pool: PGPool!
    private var counters: IngestionCounters!
    private var context: TelemetryConnectionContext!
    private var rateExceeded: [Int] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        try migrate()
        pool = PGPool(loop: loop, conninfo: database.url, size: 1, pipelined: true, name: "write", logger: logger)
        pool.start()
        addTeardownBlock { [pool] in pool?.close() }
        LoopRunner.run(loop) { self.pool.readyCount == 1 }
        context = makeContext(maxNodeIDs: 2, maxBytesPerSecond: 10_000)
    }

    private func makeContext(maxNodeIDs: Int, maxBytesPerSecond: Int) -> TelemetryConnectionContext {
        let queue = StatementQueue(pool: pool, maxInFlightPerConnection: 4)
        let budget = BufferBudget(limit: 1 << 20)
        let writer = BatchWriter(loop: loop, queue: queue, budget: budget,
                                 histograms: BatchHistograms(registry: MetricsRegistry().prometheus), logger: logger)
        // One row per batch: every message is committed at once.
        let limits = MessageBatcher.Limits(rows: 1, bytes: 1 << 20, latencyMs: 10)
        counters = IngestionCounters()
        let context = TelemetryConnectionContext(
            loop: loop,
            rules: .init(maxNodeIDs: maxNodeIDs, nodeIDIdleMs: 60_000, maxBytesPerSecond: maxBytesPerSecond, rateWindowSeconds: 1),
            counters: counters, rejections: RejectionLog(logger: logger),
            peers: PeerConnectionStore(queue: queue, loop: loop, logger: logger),
            liveBatcher: MessageBatcher(loop: loop, audit: false, limits: limits, writer: writer, budget: budget, batchIDPrefix: "t"),
            auditBatcher: MessageBatcher(loop: loop, audit: true, limits: limits, writer: writer, budget: budget, batchIDPrefix: "ta"))
        context.onRateExceeded = { [unowned self] _, rate in self.rateExceeded.append(rate) }
        return context
    }

    /// A connection as the upgrade makes it: with its first peer_connections row.
    private func connection(audit: Bool = false) throws -> TelemetryConnection {
        let id = try XCTUnwrap(Int32(try XCTUnwrap(database.scalar(
            "INSERT INTO peer_connections (ip_addr, audit) VALUES ('10.0.0.9:1', \(audit)) RETURNING id"))))
        return TelemetryConnection(context: context, peerConnectionID: id, ipAddress: "10.0.0.9:1", host: "10.0.0.9", audit: audit)
    }

    private func send(_ text: String, to connection: TelemetryConnection) {
        Array(text.utf8).withUnsafeBytes { connection.receive($0) }
    }

    private func storedCount() -> Int {
        Int((try? database.scalar("SELECT count(*) FROM tetcore_logs")) ?? nil ?? "0") ?? 0
    }

    func testEachBadMessageIsCountedByReasonAndTheGoodOnesAreStored() throws {
        let node = try connection()
        send(#"{"msg":"system.interval","ts":"2026-12-06T10:00:00Z","peers":3}"#, to: node)
        send(#"{"msg":"x","ts":"#, to: node)
        send(#"[1,2]"#, to: node)
        send(#"{"msg":"x","ts":"yesterday"}"#, to: node)
        send(#"{"id":"seven","ts":"2026-12-06T10:00:00Z","payload":{"msg":"x"}}"#, to: node)
        send(#"{"msg":"block.import","ts":"2026-12-06T10:00:01Z","height":5}"#, to: node)
        LoopRunner.run(loop) { self.storedCount() == 2 }
        XCTAssertEqual(counters.messagesReceived.value, 6)
        XCTAssertEqual(counters.rejected[[RejectReason.invalidJSON.rawValue]], 1)
        XCTAssertEqual(counters.rejected[[RejectReason.notObject.rawValue]], 1)
        XCTAssertEqual(counters.rejected[[RejectReason.badTimestamp.rawValue]], 1)
        XCTAssertEqual(counters.rejected[[RejectReason.badID.rawValue]], 1)
        XCTAssertEqual(counters.rowsBatched, 2)
        XCTAssertEqual(try database.query("SELECT logs->>'msg' FROM tetcore_logs ORDER BY created_at").map { $0[0] },
                       ["system.interval", "block.import"])
    }

    func testWrappedIdsGetARowEachUpToTheLimit() throws {
        let socket = try connection()
        // A new id waits for its row (the socket would be paused meanwhile),
        // so each is sent once the previous one is stored.
        for (sent, id) in [1, 2, 3, 1, 2].enumerated() {
            send(#"{"id":\#(id),"ts":"2026-12-06T10:00:00Z","payload":{"msg":"system.interval","n":\#(id)}}"#, to: socket)
            let expected = sent < 3 ? min(sent + 1, 2) : sent
            LoopRunner.run(loop) { self.storedCount() == expected }
        }
        // Ids 1 and 2 fill MAX_NODE_IDS_PER_CONNECTION (2 here); id 3 is refused.
        XCTAssertEqual(storedCount(), 4)
        XCTAssertEqual(counters.rejected[[RejectReason.tooManyNodeIDs.rawValue]], 1)
        let perRow = try database.query("""
            SELECT count(DISTINCT peer_connection_id), count(*) FILTER (WHERE logs->>'id' = '1') FROM tetcore_logs
            """)
        XCTAssertEqual(perRow.first?[0], "2", "one peer_connections row per node id")
        XCTAssertEqual(perRow.first?[1], "2")
    }

    func testTheMessageOverTheRateIsStoredAndReported() throws {
        context = makeContext(maxNodeIDs: 2, maxBytesPerSecond: 100)
        let node = try connection()
        let padding = String(repeating: "a", count: 30)
        send(#"{"msg":"one","ts":"2026-12-06T10:00:00Z","p":"\#(padding)"}"#, to: node)
        XCTAssertEqual(rateExceeded, [], "under 100 bytes in the window")
        send(#"{"msg":"two","ts":"2026-12-06T10:00:00Z","p":"\#(padding)"}"#, to: node)
        XCTAssertEqual(rateExceeded.count, 1)
        XCTAssertGreaterThan(rateExceeded[0], 100)
        LoopRunner.run(loop) { self.storedCount() == 2 }
    }

    func testAuditConnectionsWriteAuditRows() throws {
        let node = try connection(audit: true)
        send(#"{"msg":"system.connected","ts":"2026-12-06T10:00:00Z","network_id":"12D3KooWAudit","name":"a"}"#, to: node)
        LoopRunner.run(loop) { self.storedCount() == 1 }
        XCTAssertEqual(try database.scalar("SELECT audit::text FROM tetcore_logs"), "true")
    }
}
