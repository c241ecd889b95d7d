@testable import TestSupport
import XCTest

/// Admission on a real server: who gets 403 and 503 before the upgrade,
/// the data rate limit's 1008 and block, and forgotten idle node ids.
final class AdmissionServerTests: ServerTestCase {
    private func refusal(_ server: ServerProcess, headers: String = "") throws -> (status: Int, body: String) {
        let client = try RawClient(port: server.port)
        try client.send(RawClient.upgradeRequest(headers: headers))
        return try client.readHTTPResponse()
    }

    private func metric(_ server: ServerProcess, _ line: String) -> Bool {
        (try? server.get("/metrics").body.contains("\n" + line + "\n")) == true
    }

    func testAnAddressOutsideIngestAllowGets403AndAForwardedOneInsideIsServed() throws {
        let guarded = try startServer(["INGEST_ALLOW": "10.0.0.0/8", "TRUST_PROXY_HEADERS": "false"])
        let refused = try refusal(guarded)
        XCTAssertEqual(refused.status, 403)
        XCTAssertTrue(refused.body.contains("INGEST_ALLOW"), refused.body)
        XCTAssertTrue(metric(guarded, #"tetcore_connections_refused_total{reason="not_allowed"} 1"#))
        XCTAssertEqual(count("SELECT count(*) FROM peer_connections"), 0, "refused before any row is made")

        let proxied = try startServer(["INGEST_ALLOW": "10.0.0.0/8", "TRUST_PROXY_HEADERS": "true"])
        let client = try RawClient(port: proxied.port)
        XCTAssertEqual(try client.upgrade(headers: "X-Forwarded-For: 10.9.8.7, 127.0.0.1\r\n"), 101)
        eventually(60, "the row with the forwarded address") {
            self.count("SELECT count(*) FROM peer_connections WHERE ip_addr = '10.9.8.7'") == 1
        }
    }

    func testConnectionsOverThePerAddressLimitGet503UntilOneCloses() throws {
        let limited = try startServer(["MAX_CONNECTIONS_PER_IP": "2"])
        let first = try RawClient(port: limited.port)
        let second = try RawClient(port: limited.port)
        XCTAssertEqual(try first.upgrade(), 101)
        XCTAssertEqual(try second.upgrade(), 101)
        let third = try refusal(limited)
        XCTAssertEqual(third.status, 503)
        XCTAssertTrue(third.body.contains("MAX_CONNECTIONS_PER_IP"), third.body)

        try first.send(RawClient.frame(opcode: 8, [0x03, 0xE8]))
        XCTAssertEqual(try first.readCloseCode(), 1000)
        eventually(60, "a slot free again") { (try? RawClient(port: limited.port).upgrade()) == 101 }
        XCTAssertTrue(metric(limited, #"tetcore_connections_refused_total{reason="too_many_from_address"} 1"#))
    }

    func testAConnectionOverTheDataRateIsClosed1008AndItsAddressBlocked() throws {
        let strict = try startServer(["INGEST_MAX_BYTES_PER_S": "1024", "INGEST_RATE_WINDOW_S": "2", "INGEST_BLOCK_S": "30"])
        let client = try RawClient(port: strict.port)
        XCTAssertEqual(try client.upgrade(), 101)
        let padding = String(repeating: "x", count: 1000)
        for index in 0..<5 {
            // The server may close after the second message while later ones
            // are still being written: a failed send here is that close.
            do { try client.sendText(#"{"msg":"flood","ts":"2026-11-29T09:00:00Z","n":\#(index),"p":"\#(padding)"}"#) } catch { break }
        }
        XCTAssertEqual(try client.readCloseCode(), 1008)
        // 1 KiB/s over 2 s is 2 KiB: the second 1 KB message crosses it, is
        // stored, and ends the connection; what followed it is not read.
        eventually(60, "the messages up to the one that crossed the limit") { self.count("SELECT count(*) FROM tetcore_logs") == 2 }
        // The connection is closed and nothing is buffered: the table is final.
        eventually(60, "nothing buffered") { (try? Scrape.of(strict)["tetcore_buffered_rows"]) == 0 }
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 2)

        let again = try refusal(strict)
        XCTAssertEqual(again.status, 403)
        XCTAssertTrue(again.body.contains("data rate"), again.body)
        XCTAssertTrue(metric(strict, "tetcore_rate_limit_closes_total 1"))
        XCTAssertTrue(metric(strict, #"tetcore_connections_refused_total{reason="blocked"} 1"#))
    }

    func testAnIdleNodeIDGivesItsSlotBack() throws {
        let short = try startServer(["NODE_ID_IDLE_S": "1", "MAX_NODE_IDS_PER_CONNECTION": "2"])
        let client = try RawClient(port: short.port)
        XCTAssertEqual(try client.upgrade(), 101)
        func send(_ id: Int) throws {
            try client.sendBinary(#"{"id":\#(id),"ts":"2026-11-29T09:00:00Z","payload":{"msg":"m","from":\#(id)}}"#)
        }
        try send(1)
        try send(2)
        eventually(60, "two node ids stored") { self.count("SELECT count(*) FROM tetcore_logs") == 2 }
        try send(3)
        eventually(60, "a third id over the limit") { self.metric(short, #"tetcore_messages_rejected_total{reason="too_many_ids"} 1"#) }

        sleep(2) // ids 1 and 2 go idle
        try send(3)
        eventually(60, "the third id stored once the others were forgotten") {
            self.count("SELECT count(*) FROM tetcore_logs WHERE logs->>'from' = '3'") == 1
        }
        XCTAssertEqual(count("SELECT count(DISTINCT peer_connection_id) FROM tetcore_logs"), 3)
    }
}
