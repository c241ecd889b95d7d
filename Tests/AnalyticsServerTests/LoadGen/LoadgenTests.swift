import Foundation
@testable import TestSupport
import XCTest

/// tetcore-loadgen against the real server and PostgreSQL.
final class LoadgenTests: ServerTestCase {
    private var url: String { "ws://127.0.0.1:\(server.port)" }

    func testVerifyFindsEveryMessageOfTwoHundredNodesStoredOnce() throws {
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", url, "--nodes", "200", "--rate", "40", "--messages-per-node", "25", "--ramp-up", "1s",
            "--verify", database.url,
        ])
        XCTAssertEqual(status, 0)
        // 25 telemetry messages and one system.connected per node.
        XCTAssertEqual(summary["messages"] as? Int, 200 * 26)
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any])
        XCTAssertEqual(verify["stored"] as? Int, 200 * 26)
        XCTAssertEqual(verify["missing"] as? Int, 0)
        XCTAssertEqual(verify["duplicated"] as? Int, 0)
        XCTAssertEqual(verify["timed_out"] as? Bool, false)
        XCTAssertNotNil(verify["delay_p99_ms"] as? Int)
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 200 * 26)
        XCTAssertEqual(count("SELECT count(DISTINCT peer_id) FROM peer_connections"), 200)
        XCTAssertEqual(count("SELECT count(DISTINCT (peer_connection_id, logs->>'loadgen_seq')) FROM tetcore_logs"), 200 * 26)
    }

    func testVerifyReportsMissingAndDuplicatedRowsWithExitStatusOne() throws {
        // The database loses every node's message 3 and stores message 5
        // twice: --verify must say so and fail.
        try database.query("""
            CREATE FUNCTION lose_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
            CREATE TRIGGER lose_third BEFORE INSERT ON tetcore_logs FOR EACH ROW
                WHEN (NEW.logs->>'loadgen_seq' = '3') EXECUTE FUNCTION lose_row();
            CREATE FUNCTION copy_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                INSERT INTO tetcore_logs (created_at, logs, peer_connection_id)
                VALUES (NEW.created_at, NEW.logs, NEW.peer_connection_id);
                RETURN NULL; END $$;
            CREATE TRIGGER copy_fifth AFTER INSERT ON tetcore_logs FOR EACH ROW
                WHEN (NEW.logs->>'loadgen_seq' = '5' AND pg_trigger_depth() < 1) EXECUTE FUNCTION copy_row();
            """)
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", url, "--nodes", "3", "--rate", "100", "--messages-per-node", "10",
            "--verify", database.url, "--verify-timeout", "2s",
        ])
        XCTAssertEqual(status, 1)
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any])
        XCTAssertEqual(verify["stored"] as? Int, 30)
        XCTAssertEqual(verify["missing"] as? Int, 3)
        XCTAssertEqual(verify["duplicated"] as? Int, 3)
        XCTAssertEqual(verify["timed_out"] as? Bool, true)
        XCTAssertEqual((verify["problem_nodes"] as? [String])?.count, 3)
    }

    func testSameSeedSameIdentitiesAndWrappedForm() throws {
        func identities(seed: Int, wire: String) throws -> [[String?]] {
            try database.query("DELETE FROM peer_connections")
            let (status, _) = try LoadgenProcess.runJSON([
                "--url", url, "--nodes", "5", "--rate", "50", "--messages-per-node", "3", "--seed", String(seed),
                "--name-prefix", "seeded-", "--wire", wire, "--verify", database.url,
            ])
            XCTAssertEqual(status, 0)
            return try database.query("SELECT peer_id, name, authority::text, startup_time::text FROM peer_connections ORDER BY name")
        }
        let first = try identities(seed: 42, wire: "flat")
        let again = try identities(seed: 42, wire: "wrapped")
        let other = try identities(seed: 43, wire: "flat")
        XCTAssertEqual(first.count, 5)
        XCTAssertEqual(first, again)
        XCTAssertEqual(first.map { $0[1] }, ["seeded-0", "seeded-1", "seeded-2", "seeded-3", "seeded-4"])
        XCTAssertTrue(first.allSatisfy { ($0[0] ?? "").hasPrefix("12D3KooW") && ($0[0] ?? "").count == 52 })
        XCTAssertTrue(Set(first.map { $0[0] }).isDisjoint(with: Set(other.map { $0[0] })))
    }

    func testRealisticProfileKeepsItsSchedule() throws {
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", url, "--nodes", "12", "--profile", "realistic", "--duration", "13s", "--seed", "5",
            "--verify", database.url,
        ])
        XCTAssertEqual(status, 0)
        XCTAssertEqual((summary["verify"] as? [String: Any])?["missing"] as? Int, 0)
        // Gaps between consecutive messages of a kind on one node, in ms.
        func gaps(_ kind: String) throws -> [Double] {
            try database.query("""
                SELECT extract(epoch FROM created_at - lag(created_at) OVER (PARTITION BY peer_connection_id ORDER BY created_at)) * 1000
                FROM tetcore_logs WHERE logs->>'msg' = '\(kind)'
                """).compactMap { $0[0].flatMap { Double($0) } }
        }
        let intervals = try gaps("system.interval")
        let blocks = try gaps("block.import")
        XCTAssertGreaterThanOrEqual(intervals.count, 12)
        XCTAssertGreaterThanOrEqual(blocks.count, 12)
        for gap in intervals { XCTAssertEqual(gap, 5_000, accuracy: 150, "system.interval every 5 s") }
        for gap in blocks { XCTAssertEqual(gap, 6_000, accuracy: 150, "block.import every 6 s") }
        // Every node: 2 or 3 intervals in 13 s; each kind of a block in the
        // same slot on every node (gossip jitter under 500 ms).
        let perNode = try database.query("""
            SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'system.interval' GROUP BY peer_connection_id
            """).compactMap { $0[0].flatMap { Int($0) } }
        XCTAssertEqual(perNode.count, 12)
        XCTAssertTrue(perNode.allSatisfy { (2...3).contains($0) }, "\(perNode)")
        // All block imports fall in one 600 ms window of the 6 s slot
        // clock: the largest gap between their positions in the slot
        // (going round) leaves less than 600 ms for the rest.
        let positions = try database.query("""
            SELECT (extract(epoch FROM created_at) * 1000)::int8 % 6000 FROM tetcore_logs WHERE logs->>'msg' = 'block.import'
            """).compactMap { $0[0].flatMap { Int($0) } }.sorted()
        let first = try XCTUnwrap(positions.first), last = try XCTUnwrap(positions.last)
        let gaps = zip(positions, positions.dropFirst()).map { $1 - $0 } + [first + 6_000 - last]
        XCTAssertLessThan(6_000 - (gaps.max() ?? 0), 600, "\(positions)")
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'system.connected'"), 12)
        // The chain grows one block a slot, the same on every node.
        let heightSteps = try database.query("""
            SELECT (logs->>'height')::int8 - lag((logs->>'height')::int8) OVER (PARTITION BY peer_connection_id ORDER BY created_at)
            FROM tetcore_logs WHERE logs->>'msg' = 'block.import'
            """).compactMap { $0[0].flatMap { Int($0) } }
        XCTAssertEqual(Set(heightSteps), [1])
        let spread = try database.scalar("""
            SELECT max(s) FROM (SELECT extract(epoch FROM max(created_at) - min(created_at)) * 1000 AS s
            FROM tetcore_logs WHERE logs->>'msg' = 'block.import' GROUP BY logs->>'height') x
            """)
        XCTAssertLessThan(Double(spread ?? "") ?? .infinity, 600, "one height, one slot")
    }

    func testNodesReconnectAfterServerRestart() throws {
        let port = server.port
        let run = try LoadgenProcess([
            "--url", url, "--nodes", "20", "--rate", "20", "--duration", "9s", "--verify", database.url, "--json",
        ])
        eventually(10, "nodes connected") { self.count("SELECT count(*) FROM peer_connections") == 20 }
        usleep(1_000_000)
        XCTAssertEqual(server.terminate(), 0)
        // The same port again, so the nodes find the new server.
        let restarted = try ServerProcess(environment: ["DATABASE_URL": database.url, "PORT": String(port)], waitUntilReady: false)
        server = restarted
        eventually(30, "restarted server ready") {
            let client = try RawClient(port: port)
            try client.send("GET /readyz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            return try client.readHTTPResponse().status == 200
        }
        XCTAssertEqual(try run.wait(), 0, run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(summary["reconnects"] as? Int, 20)
        let errors = try XCTUnwrap(summary["errors"] as? [String: Int])
        XCTAssertEqual(errors["closed by server: 1001"], 20)
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any])
        XCTAssertEqual(verify["missing"] as? Int, 0)
        XCTAssertEqual(verify["duplicated"] as? Int, 0)
        // Every node came back: a second system.connected from each.
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'system.connected'"), 40)
        XCTAssertEqual(count("SELECT count(DISTINCT peer_id) FROM peer_connections"), 20)
    }

    func testJSONSummaryParses() throws {
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", url + "/audit", "--nodes", "4", "--rate", "max", "--messages-per-node", "500", "--wire", "wrapped",
        ])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(summary["messages"] as? Int, 4 * 501)
        let nodes = try XCTUnwrap(summary["nodes"] as? [String: Int])
        XCTAssertEqual(nodes["target"], 4)
        // Open at the same time: a node may finish its 500 messages before
        // the last one's upgrade is answered (the server records each
        // connection first), with the previous generator as well.
        XCTAssertTrue((1...4).contains(nodes["connected_peak"] ?? 0), "\(nodes)")
        XCTAssertEqual(summary["requested_per_node"] as? String, "max")
        XCTAssertEqual(summary["wire"] as? String, "wrapped")
        XCTAssertEqual(summary["reconnects"] as? Int, 0)
        XCTAssertEqual(summary["errors"] as? [String: Int], [:])
        XCTAssertGreaterThan(summary["bytes"] as? Int ?? 0, 4 * 501 * 80)
        XCTAssertGreaterThan(summary["seconds"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(summary["messages_per_second"] as? Double ?? 0, 0)
        XCTAssertNil(summary["verify"])
        eventually(10, "rows stored as audit") {
            self.count("SELECT count(*) FROM tetcore_logs l JOIN peer_connections p ON p.id = l.peer_connection_id WHERE p.audit") == 4 * 501
        }
    }

    func testRateIsHeldPerNode() throws {
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", url, "--nodes", "10", "--rate", "50", "--duration", "4s", "--verify", database.url,
        ])
        XCTAssertEqual(status, 0)
        // 10 nodes × 50/s × 4 s, and a system.connected each.
        let messages = try XCTUnwrap(summary["messages"] as? Int)
        XCTAssertEqual(Double(messages), 10 * (50 * 4 + 1), accuracy: 10 * 50 * 4 * 0.05)
        XCTAssertEqual(summary["throttled"] as? Int, 0)
        XCTAssertEqual((summary["verify"] as? [String: Any])?["stored"] as? Int, messages)
    }

    func testProgressLineOnlyOnATerminal() throws {
        let run = try LoadgenProcess(["--url", url, "--nodes", "2", "--rate", "5", "--duration", "1.5s"])
        XCTAssertEqual(try run.wait(), 0)
        XCTAssertEqual(run.stderr, "", "stderr is a pipe: no progress line")
        XCTAssertTrue(run.stdout.contains("nodes: 2 of 2 connected"), run.stdout)
    }
}
