@testable import TestSupport
import XCTest

final class ReputationAPITests: APITestCase {
    private static func networkState(_ peers: [(id: String, reputation: Int, connected: Bool)]) -> String {
        let nodes = peers.map { #""\#($0.id)":{"connected":\#($0.connected),"reputation":\#($0.reputation)}"# }
        return #"{"msg":"system.network_state","state":{"peerId":"x","peerset":{"message_queue":0,"nodes":{"# + nodes.joined(separator: ",") + "}}}}"
    }

    /// PeerA and PeerB report to this server; PeerC and PeerD do not.
    private func fill() throws {
        try ingest(peerID: "PeerA", name: "a", messages: [
            (APITestCase.recent(30), ReputationAPITests.networkState([("PeerB", 1, false), ("PeerC", 2, false)])),
            (APITestCase.recent(10), ReputationAPITests.networkState([("PeerC", -5, false), ("PeerB", 7, true), ("PeerD", 0, true)])),
        ])
        try ingest(peerID: "PeerB", name: "b", messages: [
            (APITestCase.recent(20), ReputationAPITests.networkState([("PeerA", 42, true)])),
            (APITestCase.recent(300), ReputationAPITests.networkState([("PeerA", -100, false)])),
        ])
        try ingest(peerID: "PeerC", name: "c", messages: [
            (APITestCase.recent(5), #"{"msg":"system.interval","peers":1}"#),
            ("2026-01-01T00:00:00Z", ReputationAPITests.networkState([("PeerA", -7, false), ("PeerB", 3, true)])),
        ])
        waitForRows(9)
    }

    func testReputationIsTheNewestPeersetOfEachReporterAsArrays() throws {
        try fill()
        let entries = try getArray("/reputation")
        XCTAssertEqual(entries.map { $0["reporting_peer"] as? String }, ["PeerA", "PeerB"])
        XCTAssertEqual(entries[0]["remote_peer"] as? [String], ["PeerB", "PeerC", "PeerD"])
        XCTAssertEqual(entries[0]["reputation"] as? [Int], [7, -5, 0])
        XCTAssertEqual(entries[0]["connected"] as? [Bool], [true, false, true])
        XCTAssertEqual(entries[1]["remote_peer"] as? [String], ["PeerA"])
        XCTAssertEqual(entries[1]["reputation"] as? [Int], [42])
        let storedTS = try database.scalar("""
            SELECT to_char(max(l.created_at), 'YYYY-MM-DD"T"HH24:MI:SS.US') FROM tetcore_logs l JOIN peer_connections pc
            ON pc.id = l.peer_connection_id WHERE pc.peer_id = 'PeerA' AND l.logs->>'msg' = 'system.network_state'
            """)
        XCTAssertEqual(entries[0]["ts"] as? String, storedTS)
        XCTAssertEqual(try getArray("/reputation/?limit=1").map { $0["reporting_peer"] as? String }, ["PeerA"])
        // PeerB's older message falls outside 15 s; PeerA's newest is 10 s old.
        XCTAssertEqual(try getArray("/reputation?max_age_s=15").map { $0["reporting_peer"] as? String }, ["PeerA"])
        let wide = try getArray("/reputation?max_age_s=100000000")
        XCTAssertEqual(wide.map { $0["reporting_peer"] as? String }, ["PeerA", "PeerB", "PeerC"])
        XCTAssertEqual(wide[2]["reputation"] as? [Int], [-7, 3])
    }

    func testLoggedKeepsOnlyRemotePeersThatReportHere() throws {
        try fill()
        let entries = try getArray("/reputation/logged")
        XCTAssertEqual(entries.map { $0["reporting_peer"] as? String }, ["PeerA", "PeerB"])
        // PeerC has a connection row (it reported), PeerD has none.
        XCTAssertEqual(entries[0]["remote_peer"] as? [String], ["PeerB", "PeerC"])
        XCTAssertEqual(entries[0]["reputation"] as? [Int], [7, -5])
        XCTAssertEqual(entries[0]["connected"] as? [Bool], [true, false])
    }

    func testOnePeerAsOthersSeeItWithItsOwnEntriesOnly() throws {
        try fill()
        let entries = try getArray("/reputation/PeerA")
        XCTAssertEqual(entries.map { $0["reporting_peer"] as? String }, ["PeerB", "PeerB", "PeerC"])
        XCTAssertEqual(entries.map { $0["reputation"] as? Int }, [42, -100, -7])
        XCTAssertEqual(entries.map { $0["connected"] as? Bool }, [true, false, false])
        XCTAssertEqual(Set(entries[0].keys), ["reporting_peer", "reputation", "connected", "ts"])
        XCTAssertEqual(try getArray("/reputation/PeerA?limit=1").map { $0["reputation"] as? Int }, [42])
        XCTAssertEqual(try getArray("/reputation/PeerA?end_time=2026-06-01T00:00:00").map { $0["reputation"] as? Int }, [-7])
        XCTAssertEqual(try getArray("/reputation/PeerA/?start_time=2026-06-01T00:00:00Z").map { $0["reputation"] as? Int }, [42, -100])
        XCTAssertEqual(try getArray("/reputation/PeerD").map { $0["reporting_peer"] as? String }, ["PeerA"])
        XCTAssertEqual(try getArray("/reputation/Nobody").count, 0)
    }

    func testBadReputationParametersAreRefusedByName() throws {
        try assertError("GET", "/reputation?max_age_s=-1", 400, "parameter 'max_age_s' must be an integer from 1 to 3153600000")
        try assertError("GET", "/reputation/logged?limit=x", 400, "parameter 'limit' must be an integer from 1 to 10000")
        try assertError("GET", "/reputation/PeerA?start_time=yesterday", 400,
                        "parameter 'start_time' must be a timestamp such as 2020-03-25T13:17:09.008533 or RFC 3339")
        try assertError("GET", "/reputation/PeerA?limit=0", 400, "parameter 'limit' must be an integer from 1 to 10000")
    }
}
