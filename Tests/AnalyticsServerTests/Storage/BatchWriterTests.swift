import Foundation
@testable import TestSupport
import XCTest

/// The prepared insert: a write connection that turns out not to have it
/// costs no rows and does not keep the writer retrying.
final class BatchWriterTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "20"] }

    private func send(_ client: RawClient, _ numbers: Range<Int>) throws {
        for number in numbers { try client.sendText(#"{"msg":"seq","ts":"2026-11-29T09:00:00Z","n":\#(number)}"#) }
    }

    /// The table is away when the first batch comes: the prepare fails, so
    /// its execution finds no prepared statement (SQLSTATE 26000). The
    /// writer goes on unprepared, retries until the table is back, and
    /// every row is stored once.
    func testAFailedPrepareSwitchesToUnpreparedInsertsAndLosesNoRow() throws {
        try database.query("ALTER TABLE tetcore_logs RENAME TO tetcore_logs_away")
        let client = try RawClient(port: server.port)
        XCTAssertEqual(try client.upgrade(), 101)
        try send(client, 0..<30)
        eventually(60, "the prepare refused and the writer switched") {
            self.server.log.contains("cannot prepare a statement")
                && self.server.log.contains("batches go unprepared from now on")
        }
        eventually(60, "the unprepared insert failing too, and retried") {
            ((try? Scrape.of(self.server))?["tetcore_batch_retries_total"] ?? 0) >= 2
        }
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs_away"), 0)

        try database.query("ALTER TABLE tetcore_logs_away RENAME TO tetcore_logs")
        try send(client, 30..<60)
        eventually(60, "every row stored") { self.count("SELECT count(*) FROM tetcore_logs") == 60 }
        eventually(60, "nothing left buffered") { (try? Scrape.of(self.server)["tetcore_buffered_rows"]) == 0 }
        XCTAssertEqual(count("SELECT count(DISTINCT logs->>'n') FROM tetcore_logs"), 60, "each row once")
        XCTAssertEqual(try XCTUnwrap(try Scrape.of(server)["tetcore_rows_written_total"]), 60)
    }
}
