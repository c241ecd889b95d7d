@testable import TestSupport
import XCTest

/// Telemetry in over real WebSockets, rows out of the real PostgreSQL.
final class IngestionTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "20"] }

    private func node(_ path: String = "/") throws -> RawClient {
        let client = try RawClient(port: server.port)
        XCTAssertEqual(try client.upgrade(path: path), 101)
        return client
    }

    func testFlatFormWithPeerInfoFromSystemConnected() throws {
        let client = try node()
        try client.sendText(#"{"msg":"system.connected","ts":"2026-11-29T10:07:15.014301337+01:00","network_id":"12D3KooWflat","name":"alice","chain":"Tetcore","version":"1.0","authority":true,"startup_time":"1700000000000","implementation":"tetcore-node"}"#)
        try client.sendText(#"{"msg":"system.interval","ts":"2026-11-29T09:07:16Z","peers":3}"#)
        eventually(60, "two rows") { self.count("SELECT count(*) FROM tetcore_logs") == 2 }
        let row = try database.query("SELECT peer_id, name, chain, version, authority, startup_time, implementation, audit, ip_addr FROM peer_connections")
        XCTAssertEqual(row.count, 1)
        XCTAssertEqual(row[0][0...7], ["12D3KooWflat", "alice", "Tetcore", "1.0", "t", "1700000000000", "tetcore-node", "f"][...])
        XCTAssertTrue(row[0][8]?.hasPrefix("127.0.0.1:") ?? false)
        XCTAssertEqual(try database.scalar("SELECT min(created_at) FROM tetcore_logs"), "2026-11-29 09:07:15.014301")
    }

    func testWrappedFormWithSeveralNodesOnOneSocket() throws {
        let client = try node()
        try client.sendBinary(#"{"id":1,"ts":"2026-11-29T10:00:00+01:00","payload":{"msg":"system.connected","network_id":"relay","name":"r"}}"#)
        try client.sendBinary(#"{"id":2,"ts":"2026-11-29T10:00:01+01:00","payload":{"msg":"system.connected","network_id":"para","name":"p"}}"#)
        try client.sendBinary(#"{"id":2,"ts":"2026-11-29T10:00:02+01:00","payload":{"msg":"block.import","height":9}}"#)
        eventually(60, "three rows") { self.count("SELECT count(*) FROM tetcore_logs") == 3 }
        let perPeer = try database.query("""
            SELECT pc.peer_id, count(*) FROM tetcore_logs l JOIN peer_connections pc ON pc.id = l.peer_connection_id
            GROUP BY pc.peer_id ORDER BY pc.peer_id
            """)
        XCTAssertEqual(perPeer.map { $0.compactMap { $0 } }, [["para", "2"], ["relay", "1"]])
        let stored = try database.scalar("SELECT logs::text FROM tetcore_logs WHERE logs->>'msg' = 'block.import'") ?? ""
        XCTAssertTrue(stored.contains(#""id": 2"#) && stored.contains(#""height": 9"#) && stored.contains(#""ts": "2026-11-29T10:00:02+01:00""#), stored)
        XCTAssertEqual(try database.scalar("SELECT created_at FROM tetcore_logs WHERE logs->>'msg' = 'block.import'"), "2026-11-29 09:00:02")
    }

    func testOlderNodesPeerIDAndAudit() throws {
        let client = try node("/audit")
        try client.sendText(#"{"msg":"system.network_state","ts":"2026-11-29T09:00:00Z","state":{"peerId":"QmOldNode","peerset":{"nodes":{}}}}"#)
        eventually(60, "peer id recorded") { (try? self.database.scalar("SELECT peer_id FROM peer_connections")) == "QmOldNode" }
        XCTAssertEqual(try database.scalar("SELECT audit FROM peer_connections"), "t")
    }

    func testRejectsAreCountedAndTheConnectionLivesOn() throws {
        let client = try node()
        try client.sendText("not json")
        try client.sendText("[1,2]")
        try client.sendText(#"{"msg":"no ts"}"#)
        try client.sendText(#"{"msg":"ok","ts":"2026-11-29T09:00:00Z"}"#)
        eventually(60, "the good row") { self.count("SELECT count(*) FROM tetcore_logs") == 1 }
        let metrics = try server.get("/metrics").body
        XCTAssertTrue(metrics.contains(#"tetcore_messages_rejected_total{reason="invalid_json"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"tetcore_messages_rejected_total{reason="not_object"} 1"#))
        XCTAssertTrue(metrics.contains(#"tetcore_messages_rejected_total{reason="bad_ts"} 1"#))
        XCTAssertTrue(metrics.contains("tetcore_message_count 4"))
    }

    func testARowPostgreSQLRefusesDoesNotPoisonItsBatch() throws {
        let batched = try startServer(["DB_SAVE_LATENCY_MS": "500"])
        let client = try RawClient(port: batched.port)
        XCTAssertEqual(try client.upgrade(), 101)
        for index in 0..<20 {
            try client.sendText(#"{"msg":"good","ts":"2026-11-29T09:00:00Z","n":\#(index)}"#)
            if index == 10 { try client.sendText(#"{"msg":"bad","ts":"2026-11-29T09:00:00Z","s":"a\u0000b"}"#) }
            if index == 15 { try client.sendText(#"{"msg":"bad","ts":"2026-11-29T09:00:00Z","s":"\ud800"}"#) }
        }
        eventually(60, "the 20 good rows") { self.count("SELECT count(*) FROM tetcore_logs") == 20 }
        eventually(60, "two rows rejected") { (try? batched.get("/metrics").body.contains("tetcore_rows_rejected_total 2")) == true }
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'bad'"), 0)
    }

    func testEveryRowStoredOnceWhenWriteConnectionsAreKilled() throws {
        let client = try node()
        for index in 0..<3000 {
            try client.sendText(#"{"msg":"seq","ts":"2026-11-29T09:00:00Z","n":\#(index)}"#)
            if index % 1000 == 500 {
                try database.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            }
        }
        eventually(60, "3000 rows") { self.count("SELECT count(*) FROM tetcore_logs") == 3000 }
        XCTAssertEqual(count("SELECT count(DISTINCT logs->>'n') FROM tetcore_logs"), 3000, "no duplicates")
    }

    func testShutdownFlushesBufferedRowsAndCloses1001() throws {
        let slow = try startServer(["DB_SAVE_LATENCY_MS": "60000", "DB_BATCH_SIZE": "100000"])
        let client = try RawClient(port: slow.port)
        XCTAssertEqual(try client.upgrade(), 101)
        for index in 0..<50 { try client.sendText(#"{"msg":"late","ts":"2026-11-29T09:00:00Z","n":\#(index)}"#) }
        eventually(60, "every message received") { (try? Scrape.of(slow)["tetcore_message_count"]) == 50 }
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 0, "still buffered")
        let shutdown = try slow.shutDown(answering: client)
        XCTAssertEqual(shutdown.closeCode, 1001)
        XCTAssertEqual(shutdown.exitStatus, 0)
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 50)
    }

    func testUpgradeRefusedWith503WhenTheDatabaseIsGone() throws {
        let broken = try ServerProcess(environment: ["DATABASE_URL": "postgres://postgres@127.0.0.1:1/none"], waitUntilReady: false)
        eventually(60, "listening") { (try? broken.get("/healthz").status) == 200 }
        XCTAssertEqual(try broken.get("/readyz").status, 503)
        let client = try RawClient(port: broken.port)
        XCTAssertEqual(try client.upgrade(), 503)
    }
}
