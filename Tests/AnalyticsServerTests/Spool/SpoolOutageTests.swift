@testable import AnalyticsServer
import Foundation
@testable import TestSupport
import XCTest

/// The disk spool against a real server process and a PostgreSQL the test
/// stops and starts: outages longer than the memory budget, a server killed
/// in one, damaged spool files, and a full spool.
final class SpoolOutageTests: XCTestCase {
    private var cluster: DisposableCluster?
    private var servers: [ServerProcess] = []
    private var spoolDirectory = ""

    /// 1 MiB of memory (the least MAX_BUFFERED_BYTES allows), small
    /// batches, and no data-rate limit: one test node sends for many.
    private var settings: [String: String] {
        ["SPOOL_DIR": spoolDirectory, "MAX_BUFFERED_BYTES": String(1 << 20), "DB_BATCH_SIZE": "50", "DB_SAVE_LATENCY_MS": "20",
         "INGEST_MAX_BYTES_PER_S": String(1 << 30)]
    }

    override func setUpWithError() throws {
        cluster = try DisposableCluster()
        spoolDirectory = NSTemporaryDirectory() + "tetcore-spool-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    override func tearDown() {
        for server in servers where server.process.isRunning { _ = server.terminate(signal: SIGKILL) }
        servers = []
        cluster?.destroy()
        cluster = nil
        try? FileManager.default.removeItem(atPath: spoolDirectory)
    }

    private func startServer(_ extra: [String: String] = [:]) throws -> ServerProcess {
        let cluster = try XCTUnwrap(cluster)
        var environment = settings.merging(["DATABASE_URL": cluster.url]) { $1 }
        environment.merge(extra) { $1 }
        let server = try ServerProcess(environment: environment)
        servers.append(server)
        return server
    }

    /// A node sending numbered messages of about 1 KB.
    private final class NumberedNode {
        let client: RawClient
        private(set) var sent = 0
        private static let padding = String(repeating: "p", count: 1000)

        init(port: Int) throws {
            client = try RawClient(port: port)
            XCTAssertEqual(try client.upgrade(), 101)
        }

        func send(_ count: Int) throws {
            for _ in 0..<count {
                try client.sendText(#"{"msg":"seq","ts":"2026-11-29T09:00:00Z","n":\#(sent),"pad":"\#(NumberedNode.padding)"}"#)
                sent += 1
            }
        }
    }

    private func count(_ sql: String) throws -> Int {
        try XCTUnwrap(cluster).count(sql)
    }

    private func metric(_ server: ServerProcess, _ series: String) -> Double {
        (try? Scrape.of(server)[series]) ?? nil ?? -1
    }

    /// Sends `total` messages over about three seconds while PostgreSQL is
    /// down, then waits until every one has left memory for the spool.
    private func sendThroughAnOutage(_ node: NumberedNode, _ server: ServerProcess, total: Int) throws {
        for _ in 0..<30 {
            try node.send(total / 30)
            usleep(100_000)
        }
        eventually(120, "every message received and spooled") {
            let scrape = try Scrape.of(server)
            return scrape["tetcore_message_count"] == Double(node.sent) && scrape["tetcore_buffered_rows"] == 0
        }
    }

    func testAnOutageLongerThanTheMemoryBudgetGoesThroughTheSpoolAndEveryMessageIsStoredOnce() throws {
        let cluster = try XCTUnwrap(cluster)
        // 1 MiB segments: the outage fills several.
        let server = try startServer(["SPOOL_MAX_BYTES": String(16 << 20)])
        let node = try NumberedNode(port: server.port)
        try node.send(100)
        eventually(60, "the first 100 rows") { try self.count("SELECT count(*) FROM tetcore_logs") == 100 }

        try cluster.stopImmediately()
        try sendThroughAnOutage(node, server, total: 3000)
        // More than the memory budget waited on disk.
        let scrape = try Scrape.of(server)
        XCTAssertGreaterThan(scrape["tetcore_spool_bytes"] ?? 0, Double(1 << 20), scrape.text)
        XCTAssertGreaterThan(scrape["tetcore_spool_files"] ?? 0, 1)
        XCTAssertEqual(scrape["tetcore_spool_rows_spooled_total"], 3000, "every message of the outage, and only those")
        XCTAssertGreaterThanOrEqual(scrape["tetcore_spool_oldest_record_age_seconds"] ?? -1, 0)
        XCTAssertEqual(scrape["tetcore_spool_full_total"], 0)

        try cluster.start()
        // New messages keep flowing while the spool is replayed.
        try node.send(500)
        eventually(120, "all \(node.sent) rows after the outage") { try self.count("SELECT count(*) FROM tetcore_logs") == node.sent }
        XCTAssertEqual(try count("SELECT count(DISTINCT (logs->>'n')::int) FROM tetcore_logs"), node.sent, "no duplicates")
        XCTAssertEqual(try count("SELECT max((logs->>'n')::int) FROM tetcore_logs"), node.sent - 1)
        eventually(60, "the spool emptied and its files deleted") {
            let scrape = try Scrape.of(server)
            return scrape["tetcore_spool_bytes"] == 0 && scrape["tetcore_spool_files"] == 0
                // Messages sent before a write connection is back are spooled too.
                && scrape["tetcore_spool_rows_replayed_total"] == scrape["tetcore_spool_rows_spooled_total"]
        }
        XCTAssertEqual(try segmentFiles(), [])
        XCTAssertEqual(metric(server, "tetcore_spool_corrupt_records_total"), 0)
        XCTAssertTrue(server.log.contains("writing batches PostgreSQL cannot take now to the spool"))
        eventually(10, "the empty spool logged") { server.log.contains("the spool is empty: every spooled batch was written") }
    }

    func testAServerKilledDuringAnOutageReplaysItsSpoolWhenItRestarts() throws {
        let cluster = try XCTUnwrap(cluster)
        let server = try startServer()
        let node = try NumberedNode(port: server.port)
        try node.send(100)
        eventually(60, "the first 100 rows") { try self.count("SELECT count(*) FROM tetcore_logs") == 100 }

        try cluster.stopImmediately()
        try sendThroughAnOutage(node, server, total: 1500)
        _ = server.terminate(signal: SIGKILL)
        XCTAssertFalse(try segmentFiles().isEmpty)

        try cluster.start()
        let restarted = try startServer()
        eventually(120, "all \(node.sent) rows replayed by the restarted server") {
            try self.count("SELECT count(*) FROM tetcore_logs") == node.sent
        }
        XCTAssertEqual(try count("SELECT count(DISTINCT (logs->>'n')::int) FROM tetcore_logs"), node.sent, "no duplicates")
        eventually(60, "the spool emptied") { try self.segmentFiles().isEmpty }
        XCTAssertTrue(restarted.log.contains("the spool holds batches from before this start"))
        XCTAssertEqual(metric(restarted, "tetcore_spool_rows_replayed_total"), 1500)
    }

    func testDamagedSpoolFilesAreReportedAndTheirGoodRecordsKept() throws {
        let cluster = try XCTUnwrap(cluster)
        let server = try startServer(["SPOOL_MAX_BYTES": String(16 << 20)])
        let node = try NumberedNode(port: server.port)
        try cluster.stopImmediately()
        try sendThroughAnOutage(node, server, total: 3000)
        _ = server.terminate(signal: SIGKILL)

        // Read what the spool holds, then damage it: one byte flipped in the
        // middle record of the first segment, and the last segment cut in
        // its last record.
        let files = try segmentFiles()
        XCTAssertGreaterThan(files.count, 1, "1 MiB segments")
        guard let first = files.first, let last = files.last else { return }
        var firstBytes = try fileBytes(first)
        let firstRecords = records(in: firstBytes)
        let flipped = firstRecords[firstRecords.count / 2]
        firstBytes[flipped.offset + SpoolSegmentFormat.recordHeaderSize + 100] ^= 0xFF
        try Data(firstBytes).write(to: URL(fileURLWithPath: first))
        let lastBytes = try fileBytes(last)
        let lastRecords = records(in: lastBytes)
        let cut = try XCTUnwrap(lastRecords.last)
        try Data(lastBytes[..<(cut.offset + 40)]).write(to: URL(fileURLWithPath: last))
        let lost = Set(flipped.numbers + cut.numbers)

        try cluster.start()
        let restarted = try startServer()
        let expected = node.sent - lost.count
        eventually(120, "the \(expected) rows of the undamaged records") {
            try self.count("SELECT count(*) FROM tetcore_logs") == expected
        }
        eventually(60, "the spool emptied") { try self.segmentFiles().isEmpty }
        XCTAssertEqual(try count("SELECT count(DISTINCT (logs->>'n')::int) FROM tetcore_logs"), expected, "no duplicates")
        let stored = try TestDatabase.exec(cluster.url, "SELECT (logs->>'n')::int FROM tetcore_logs").compactMap { $0.first.flatMap { $0 }.flatMap { Int($0) } }
        XCTAssertEqual(Set(stored), Set(0..<node.sent).subtracting(lost), "exactly the rows of the damaged records are missing")
        XCTAssertEqual(metric(restarted, "tetcore_spool_corrupt_records_total"), 2)
        XCTAssertTrue(restarted.log.contains("damaged spool record skipped"))
        XCTAssertTrue(restarted.log.contains("checksum mismatch"))
    }

    func testAFullSpoolFallsBackToBackpressureAndLosesNothing() throws {
        let cluster = try XCTUnwrap(cluster)
        let server = try startServer(["SPOOL_MAX_BYTES": String(1 << 20)])
        let node = try NumberedNode(port: server.port)
        try cluster.stopImmediately()
        // 4 MB: 1 MiB fits on disk, 1 MiB in memory; then the socket is
        // paused and this sender blocks until PostgreSQL is back.
        let sender = Thread { try? node.send(4000) }
        sender.start()
        eventually(120, "the spool full and node sockets paused") {
            let scrape = try Scrape.of(server)
            return scrape["tetcore_spool_full_total"] == 1 && scrape["tetcore_backpressure_active"] == 1
        }
        XCTAssertTrue(server.log.contains("the spool is full"))
        XCTAssertLessThanOrEqual(metric(server, "tetcore_spool_bytes"), Double(1 << 20))

        try cluster.start()
        eventually(180, "all 4000 rows") { try self.count("SELECT count(*) FROM tetcore_logs") == 4000 }
        eventually(60, "the sender done") { !sender.isExecuting }
        XCTAssertEqual(node.sent, 4000)
        XCTAssertEqual(try count("SELECT count(DISTINCT (logs->>'n')::int) FROM tetcore_logs"), 4000, "no duplicates")
        eventually(60, "the spool emptied") { try self.segmentFiles().isEmpty }
        XCTAssertTrue(server.log.contains("the spool has room again"))
    }

    // MARK: Reading the spool from outside

    private func segmentFiles() throws -> [String] {
        let directory = spoolDirectory + "/loop-0"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { SpoolDirectory.sequence(ofFileNamed: $0) != nil }.sorted().map { directory + "/" + $0 }
    }

    private func fileBytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Each record of a segment: where it starts and the message numbers of its rows.
    private func records(in bytes: [UInt8]) -> [(offset: Int, numbers: [Int])] {
        var found: [(Int, [Int])] = []
        var offset = SpoolSegmentFormat.headerSize
        while case .record(let payload, let next) = SpoolSegmentFormat.next(in: bytes, at: offset) {
            let batch = SpoolRecord.decode(payload, createdAtMs: 0)
            found.append((offset, batch.map(numbers) ?? []))
            offset = next
        }
        return found
    }

    private func numbers(_ batch: MessageBatch) -> [Int] {
        let text = String(decoding: batch.documents, as: UTF8.self)
        return text.components(separatedBy: #""n":"#).dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
    }
}
