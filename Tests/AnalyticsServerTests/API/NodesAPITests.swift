@testable import TestSupport
import XCTest

final class NodesAPITests: APITestCase {
    private func fill() throws {
        try ingest(peerID: "PeerA", name: "alice", messages: [
            ("2026-01-01T10:00:01Z", #"{"msg":"system.interval","peers":3}"#),
            ("2026-01-01T10:00:02Z", #"{"msg":"block.import","target":"sync","height":1}"#),
            ("2026-01-01T10:00:03.5Z", #"{"msg":"block.import","target":"gossip","height":2}"#),
            ("2026-01-01T10:00:04Z", #"{"msg":"system.interval","target":"sync","peers":4}"#),
        ])
        try ingest(peerID: "PeerB", name: "bob", messages: [("2026-01-01T11:00:00Z", #"{"msg":"system.interval","peers":1}"#)])
        waitForRows(7)
    }

    func testNodesListsTheNewestConnectionOfEachPeer() throws {
        try fill()
        // A second connection of PeerA, and one whose peer id is not known.
        try ingest(peerID: "PeerA", name: "alice-restarted", messages: [("2026-01-02T00:00:00Z", #"{"msg":"x"}"#)])
        let anonymous = try RawClient(port: server.port)
        XCTAssertEqual(try anonymous.upgrade(), 101)
        try anonymous.sendText(#"{"msg":"no.peer","ts":"2026-01-02T00:00:00Z"}"#)
        waitForRows(10)
        let nodes = try getArray("/nodes")
        XCTAssertEqual(nodes.map { $0["name"] as? String }, ["bob", "alice-restarted", nil])
        XCTAssertEqual(nodes.map { $0["peer_id"] as? String }, ["PeerB", "PeerA", nil])
        let alice = nodes[1]
        XCTAssertEqual(Set(alice.keys), ["id", "ip_addr", "peer_id", "created_at", "audit", "name", "chain", "version",
                                         "authority", "startup_time", "implementation"])
        XCTAssertEqual(alice["chain"] as? String, "Tetcore")
        XCTAssertEqual(alice["authority"] as? Bool, false)
        XCTAssertEqual(alice["startup_time"] as? Int, 1_700_000_000_000)
        XCTAssertEqual(alice["audit"] as? Bool, false)
        let createdAt = alice["created_at"] as? String ?? ""
        XCTAssertNotNil(createdAt.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$"#, options: .regularExpression), createdAt)
        XCTAssertEqual(try getArray("/nodes/").count, 3, "trailing slash")
    }

    func testLogStatsCountsEachMessageKindOfAllConnectionsOfAPeer() throws {
        try fill()
        let stats = try getArray("/nodes/log_stats?peer_id=PeerA")
        XCTAssertEqual(stats.map { $0["log_type"] as? String }, ["block.import", "system.connected", "system.interval"])
        XCTAssertEqual(stats.map { $0["qty"] as? Int }, [2, 1, 2])
        XCTAssertEqual(try getArray("/nodes/log_stats/?peer_id=nobody").count, 0)
    }

    func testLogsFiltersOneByOneAndTogetherNewestFirst() throws {
        try fill()
        func times(_ query: String) throws -> [String] {
            try getArray("/nodes/logs?peer_id=PeerA" + query).compactMap { $0["created_at"] as? String }
        }
        XCTAssertEqual(try times(""), ["2026-01-01T10:00:04.000000", "2026-01-01T10:00:03.500000",
                                       "2026-01-01T10:00:02.000000", "2026-01-01T10:00:01.000000",
                                       "2026-01-01T10:00:01.000000"])
        XCTAssertEqual(try times("&msg=block.import"), ["2026-01-01T10:00:03.500000", "2026-01-01T10:00:02.000000"])
        XCTAssertEqual(try times("&target=sync"), ["2026-01-01T10:00:04.000000", "2026-01-01T10:00:02.000000"])
        XCTAssertEqual(try times("&start_time=2026-01-01T10:00:02"), ["2026-01-01T10:00:04.000000", "2026-01-01T10:00:03.500000"])
        XCTAssertEqual(try times("&end_time=2026-01-01T11:00:02%2B01:00"), ["2026-01-01T10:00:01.000000", "2026-01-01T10:00:01.000000"])
        XCTAssertEqual(try times("&limit=2"), ["2026-01-01T10:00:04.000000", "2026-01-01T10:00:03.500000"])
        XCTAssertEqual(try times("&msg=block.import&target=sync&start_time=2026-01-01T10:00:01.5&end_time=2026-01-01T10:00:03Z&limit=10"),
                       ["2026-01-01T10:00:02.000000"])
        XCTAssertEqual(try times("&msg=block.import&target=none"), [])
        let entry = try getArray("/nodes/logs/?peer_id=PeerA&msg=block.import&limit=1")[0]
        XCTAssertEqual(entry["peer_id"] as? String, "PeerA")
        XCTAssertEqual(entry["msg"] as? String, "block.import")
        XCTAssertTrue((entry["ip_addr"] as? String)?.hasPrefix("127.0.0.1:") ?? false)
        let logs = entry["logs"] as? [String: Any]
        XCTAssertEqual(logs?["height"] as? Int, 2)
        XCTAssertEqual(logs?["target"] as? String, "gossip")
        XCTAssertEqual(try getArray("/nodes/logs?peer_id=PeerB").count, 2, "another peer's rows stay apart")
    }

    func testBadQueryParametersAreRefusedByName() throws {
        try assertError("GET", "/nodes/logs", 400, "missing required parameter 'peer_id'")
        try assertError("GET", "/nodes/logs?peer_id=", 400, "missing required parameter 'peer_id'")
        try assertError("GET", "/nodes/log_stats", 400, "missing required parameter 'peer_id'")
        let limit = "parameter 'limit' must be an integer from 1 to 10000"
        try assertError("GET", "/nodes/logs?peer_id=P&limit=abc", 400, limit)
        try assertError("GET", "/nodes/logs?peer_id=P&limit=0", 400, limit)
        try assertError("GET", "/nodes/logs?peer_id=P&limit=10001", 400, limit)
        let time = " must be a timestamp such as 2020-03-25T13:17:09.008533 or RFC 3339"
        try assertError("GET", "/nodes/logs?peer_id=P&start_time=yesterday", 400, "parameter 'start_time'" + time)
        try assertError("GET", "/nodes/logs?peer_id=P&end_time=2026-02-30T00:00:00", 400, "parameter 'end_time'" + time)
        try assertError("GET", "/nodes/logs?peer_id=P&end_time=0001-01-01T00:30:00%2B01:00", 400, "parameter 'end_time'" + time)
        try assertError("GET", "/nodes/logs?peer_id=P&msg=", 400, "parameter 'msg' is empty")
        try assertError("GET", "/nodes/logs?peer_id=P%00", 400, "parameter 'peer_id' contains a NUL character")
        try assertError("GET", "/reputation/P%00", 400, "path parameter 'peer_id' contains a NUL character")
    }
}
