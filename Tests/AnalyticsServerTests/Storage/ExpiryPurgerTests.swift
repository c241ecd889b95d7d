import Foundation
@testable import TestSupport
import XCTest

/// Purge passes of the running server, against rows planted by SQL with
/// ages on either side of LOG_EXPIRY_H.
final class ExpiryPurgerTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["PURGE_INTERVAL_S": "1", "LOG_EXPIRY_H": "1", "DB_SAVE_LATENCY_MS": "20"]
    }

    private let twoHoursAgo = "(now() AT TIME ZONE 'utc') - interval '2 hours'"
    private let fresh = "(now() AT TIME ZONE 'utc')"

    /// Inserts the row of a connection that is not open; returns its id.
    private func plantConnection(_ label: String, audit: Bool, createdAt: String) throws -> String {
        let id = try database.scalar("""
            INSERT INTO peer_connections (ip_addr, peer_id, audit, created_at) VALUES ('10.0.0.1:1', '\(label)', \(audit), \(createdAt))
            RETURNING id
            """)
        return try XCTUnwrap(id)
    }

    private func plantLog(_ label: String, connection: String, createdAt: String) throws {
        try database.query("""
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id, audit)
            SELECT \(createdAt), '{"msg":"\(label)"}', id, audit FROM peer_connections WHERE id = \(connection)
            """)
    }

    private func purgeRuns() -> Int? {
        guard let body = try? server.get("/metrics").body,
              let line = body.split(separator: "\n").first(where: { $0.hasPrefix("tetcore_purge_runs_total ") }) else { return nil }
        return Int(line.split(separator: " ")[1])
    }

    private func labels(_ sql: String) throws -> [String] {
        try database.query(sql).compactMap { $0.first ?? nil }
    }

    func testExpiredRowsOfClosedNonAuditConnectionsGoAndEverythingElseStays() throws {
        // A node that is connected now, whose row is old and has no logs yet.
        let live = try RawClient(port: server.port)
        XCTAssertEqual(try live.upgrade(), 101)
        let liveRow = try XCTUnwrap(try database.scalar("SELECT id FROM peer_connections"))
        try database.query("UPDATE peer_connections SET created_at = \(twoHoursAgo) WHERE id = \(liveRow)")

        let mixed = try plantConnection("mixed", audit: false, createdAt: twoHoursAgo)
        try plantLog("mixed-old", connection: mixed, createdAt: twoHoursAgo)
        try plantLog("mixed-fresh", connection: mixed, createdAt: fresh)
        let audited = try plantConnection("audited", audit: true, createdAt: twoHoursAgo)
        try plantLog("audited-old", connection: audited, createdAt: twoHoursAgo)
        let expired = try plantConnection("expired", audit: false, createdAt: twoHoursAgo)
        try plantLog("expired-old", connection: expired, createdAt: twoHoursAgo)
        _ = try plantConnection("empty-old", audit: false, createdAt: twoHoursAgo)
        _ = try plantConnection("empty-new", audit: false, createdAt: fresh)

        // Runs only count up when a pass starts after the previous one has
        // finished, so two more starts mean one whole pass saw every row.
        let before = try XCTUnwrap(purgeRuns())
        eventually(60, "a whole purge pass after planting") { (self.purgeRuns() ?? 0) >= before + 2 }

        XCTAssertEqual(try labels("SELECT logs->>'msg' FROM tetcore_logs ORDER BY 1"), ["audited-old", "mixed-fresh"])
        XCTAssertEqual(try labels("SELECT peer_id FROM peer_connections WHERE peer_id IS NOT NULL ORDER BY 1"),
                       ["audited", "empty-new", "mixed"])
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM peer_connections WHERE id = \(liveRow)"), "1",
                       "an open connection's row is kept")
        XCTAssertEqual(count("SELECT count(*) FROM peer_connections"), 4)
        let metrics = try server.get("/metrics").body
        XCTAssertTrue(metrics.contains("\ntetcore_purged_rows_total 2\n"), metrics)

        let now = ISO8601DateFormatter().string(from: Date())
        try live.sendText(#"{"msg":"after-purge","ts":"\#(now)"}"#)
        eventually(60, "the live node's message") { self.count("SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'after-purge'") == 1 }
        XCTAssertEqual(try database.scalar("""
            SELECT pc.id FROM tetcore_logs l JOIN peer_connections pc ON pc.id = l.peer_connection_id
            WHERE l.logs->>'msg' = 'after-purge'
            """), liveRow)
    }
}
