@testable import TestSupport
import XCTest

final class StatsAPITests: APITestCase {
    func testDatabaseSizesLargestFirstWithPrettySizes() throws {
        try ingest(peerID: "P", name: "p", messages: [("2026-01-01T00:00:00Z", #"{"msg":"m","pad":"\#(String(repeating: "y", count: 3000))"}"#)])
        waitForRows(2)
        let sizes = try getArray("/stats/db")
        let names = sizes.compactMap { $0["relation"] as? String }
        XCTAssertTrue(names.contains("tetcore_logs") && names.contains("tetcore_logs_network_state_idx")
                      && names.contains("peer_connections_pkey"), "\(names)")
        let bytes = sizes.compactMap { $0["bytes"] as? Int }
        XCTAssertEqual(bytes.count, sizes.count)
        XCTAssertEqual(bytes, bytes.sorted(by: >))
        let expected = try database.query("""
            SELECT pg_size_pretty(sum(pg_table_size(relid))::bigint), sum(pg_table_size(relid))
            FROM pg_partition_tree('tetcore_logs') WHERE isleaf
            """)[0]
        let logs = sizes.first { $0["relation"] as? String == "tetcore_logs" }
        XCTAssertEqual(logs?["size"] as? String, expected[0])
        XCTAssertEqual((logs?["bytes"] as? Int).map(String.init), expected[1])
    }

    func testVersion() throws {
        let version = try getJSON("/stats/version/") as? [String: String]
        XCTAssertEqual(version?["name"], "tetcore-analytics")
        XCTAssertNotNil(version?["version"])
        XCTAssertNotNil(version?["description"])
    }

    func testDatabaseErrorsAnswer500WithoutDetail() throws {
        try database.query("ALTER TABLE host_systems RENAME COLUMN disk_info TO disk")
        try assertError("GET", "/host_systems", 500, "database error")
        eventually(60, "the detail is logged") { self.server.log.contains("disk_info") && self.server.log.contains("API query failed") }
    }

    func testStatementTimeoutCancelsAHeavyQuery() throws {
        let quick = try startServer(["STATEMENT_TIMEOUT_MS": "100"])
        try database.query("""
            CREATE FUNCTION slow_size() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$;
            CREATE TRIGGER slow BEFORE INSERT ON host_systems FOR EACH ROW EXECUTE FUNCTION slow_size();
            """)
        let client = try RawClient(port: quick.port)
        let body = #"{"description":"d","os":"o","cpu_qty":1,"cpu_clock":1,"ram_mb":1,"disk_info":"i"}"#
        try client.send("POST /host_systems HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        let response = try client.readHTTPResponse()
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(response.body, #"{"error":"database error"}"#)
        eventually(60, "timeout logged") { quick.log.contains("statement timeout") }
    }
}
