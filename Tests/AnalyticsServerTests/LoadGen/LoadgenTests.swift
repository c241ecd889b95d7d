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
            // startup_time is counted back from the run's start (a node up
            // for less than a week), so it is not part of what a seed fixes.
            let ages = try database.query("""
                SELECT (extract(epoch FROM now()) * 1000 - startup_time)::bigint::text FROM peer_connections
                """)
            XCTAssertTrue(ages.allSatisfy { Int64($0[0] ?? "").map { (0...7 * 86_400_000).contains($0) } ?? false },
                          "started within the last week: \(ages)")
            return try database.query("SELECT peer_id, name, authority::text FROM peer_connections ORDER BY name")
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
        func gaps(_ kind: String, _ condition: String = "true") throws -> [Double] {
            try database.query("""
                SELECT extract(epoch FROM created_at - lag(created_at) OVER (PARTITION BY peer_connection_id ORDER BY created_at)) * 1000
                FROM tetcore_logs WHERE logs->>'msg' = '\(kind)' AND \(condition)
                """).compactMap { $0[0].flatMap { Double($0) } }
        }
        // A message goes out between its due time and late_max_ms after it
        // (the generator measures how late its loop ran: the tick, and
        // more on a busy machine); 5 ms more for reading the clocks.
        let late = try XCTUnwrap(summary["late_max_ms"] as? Int, "\(summary)")
        let slack = Double(late + 5)
        // The interval tick is two messages (blocks, then network), as
        // current nodes send it: time the first.
        let intervals = try gaps("system.interval", "logs ? 'height'")
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'system.interval' AND logs ? 'height'"),
                       count("SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'system.interval' AND logs ? 'peers'"))
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'sysinfo.hwbench'"), 12)
        let blocks = try gaps("block.import")
        XCTAssertGreaterThanOrEqual(intervals.count, 12)
        XCTAssertGreaterThanOrEqual(blocks.count, 12)
        for gap in intervals { XCTAssertEqual(gap, 5_000, accuracy: slack, "system.interval every 5 s") }
        for gap in blocks { XCTAssertEqual(gap, 6_000, accuracy: slack, "block.import every 6 s") }
        // Every node: at most 3 intervals in 13 s, the first within 5 s of
        // joining (with the gaps above: none missed, whenever it joined);
        // each kind of a block in the same slot on every node (gossip
        // jitter under 500 ms).
        let perNode = try database.query("""
            SELECT count(*) FILTER (WHERE logs->>'msg' = 'system.interval' AND logs ? 'height'),
                   extract(epoch FROM min(created_at) FILTER (WHERE logs->>'msg' = 'system.interval')
                                    - min(created_at) FILTER (WHERE logs->>'msg' = 'system.connected')) * 1000
            FROM tetcore_logs GROUP BY peer_connection_id
            """).map { (count: Int($0[0] ?? "") ?? -1, firstAfterMs: Double($0[1] ?? "") ?? .infinity) }
        XCTAssertEqual(perNode.count, 12)
        XCTAssertTrue(perNode.allSatisfy { (1...3).contains($0.count) }, "\(perNode)")
        XCTAssertTrue(perNode.allSatisfy { $0.firstAfterMs <= 5_000 + slack }, "\(perNode)")
        // All block imports fall in one window of the 6 s slot clock as
        // wide as the gossip jitter and the lateness: the largest gap
        // between their positions in the slot (going round) leaves no
        // more than that for the rest.
        let positions = try database.query("""
            SELECT (extract(epoch FROM created_at) * 1000)::int8 % 6000 FROM tetcore_logs WHERE logs->>'msg' = 'block.import'
            """).compactMap { $0[0].flatMap { Int($0) } }.sorted()
        let first = try XCTUnwrap(positions.first), last = try XCTUnwrap(positions.last)
        let gaps = zip(positions, positions.dropFirst()).map { $1 - $0 } + [first + 6_000 - last]
        XCTAssertLessThan(Double(6_000 - (gaps.max() ?? 0)), 500 + slack, "\(positions)")
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
        XCTAssertLessThan(Double(spread ?? "") ?? .infinity, 500 + slack, "one height, one slot")
    }

    func testNodesReconnectAfterServerRestart() throws {
        let port = server.port
        // No --duration: the run ends when the test has seen every node
        // back (a reconnect's backoff reaches 5 s while the server is down).
        let run = try LoadgenProcess([
            "--url", url, "--nodes", "20", "--rate", "20", "--verify", database.url, "--json",
        ])
        eventually(60, "nodes connected") { self.count("SELECT count(*) FROM peer_connections") == 20 }
        eventually(60, "every node streaming") {
            self.count("SELECT count(DISTINCT peer_connection_id) FROM tetcore_logs WHERE logs->>'msg' <> 'system.connected'") == 20
        }
        XCTAssertEqual(server.terminate(), 0)
        // The same port again, so the nodes find the new server.
        let restarted = try ServerProcess(environment: ["DATABASE_URL": database.url, "PORT": String(port)], waitUntilReady: false)
        server = restarted
        eventually(60, "restarted server ready") {
            let client = try RawClient(port: port)
            try client.send("GET /readyz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            return try client.readHTTPResponse().status == 200
        }
        // Each node back sends system.connected again: a second connection row.
        eventually(60, "every node reconnected") { self.count("SELECT count(*) FROM peer_connections") == 40 }
        run.interrupt()
        XCTAssertEqual(try run.wait(), 0, run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(summary["reconnects"] as? Int, 20)
        // Nothing closed before the restart: all 20 were open at once.
        XCTAssertEqual(summary["nodes"] as? [String: Int], ["target": 20, "connected_peak": 20])
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
        // A node may finish its 500 before the last one connects: how many
        // were open at once depends on scheduling, not on the generator.
        let nodes = try XCTUnwrap(summary["nodes"] as? [String: Int])
        XCTAssertEqual(Set(nodes.keys), ["target", "connected_peak"])
        XCTAssertEqual(nodes["target"], 4)
        XCTAssertTrue((1...4).contains(nodes["connected_peak"] ?? 0), "\(nodes)")
        XCTAssertEqual(summary["requested_per_node"] as? String, "max")
        XCTAssertEqual(summary["wire"] as? String, "wrapped")
        XCTAssertEqual(summary["reconnects"] as? Int, 0)
        XCTAssertEqual(summary["errors"] as? [String: Int], [:])
        XCTAssertGreaterThan(summary["bytes"] as? Int ?? 0, 4 * 501 * 80)
        XCTAssertGreaterThan(summary["seconds"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(summary["messages_per_second"] as? Double ?? 0, 0)
        XCTAssertNil(summary["verify"])
        eventually(60, "rows stored as audit") {
            self.count("SELECT count(*) FROM tetcore_logs l JOIN peer_connections p ON p.id = l.peer_connection_id WHERE p.audit") == 4 * 501
        }
    }

    func testRateIsHeldPerNode() throws {
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", url, "--nodes", "10", "--rate", "50", "--duration", "4s", "--verify", database.url,
        ])
        XCTAssertEqual(status, 0)
        let messages = try XCTUnwrap(summary["messages"] as? Int)
        XCTAssertEqual(summary["throttled"] as? Int, 0)
        XCTAssertEqual((summary["verify"] as? [String: Any])?["stored"] as? Int, messages)
        // The rate over the time each node actually sent (it joins and
        // stops when the machine lets it): after its first write, a node
        // sends 50 for every second its ts advance, whatever the 4 s were.
        // Up to one message either way from where the first and last
        // writes fell between two ticks, and 50/s of the time a write's ts
        // can trail its tick (late_max_ms, measured by the generator).
        let late = try XCTUnwrap(summary["late_max_ms"] as? Int, "\(summary)")
        let tolerance = 1.1 + 50 * Double(late + 1) / 1000
        let perNode = try database.query("""
            SELECT count(*) FILTER (WHERE created_at > first), extract(epoch FROM max(created_at) - min(first))
            FROM (SELECT peer_connection_id, created_at,
                         min(created_at) FILTER (WHERE logs->>'msg' <> 'system.connected') OVER (PARTITION BY peer_connection_id) AS first
                  FROM tetcore_logs WHERE logs->>'msg' <> 'system.connected') x
            GROUP BY peer_connection_id
            """).map { (after: Int($0[0] ?? "") ?? -1, seconds: Double($0[1] ?? "") ?? -1) }
        XCTAssertEqual(perNode.count, 10)
        for node in perNode {
            XCTAssertGreaterThan(node.seconds, 0, "\(perNode)")
            XCTAssertEqual(Double(node.after), 50 * node.seconds, accuracy: tolerance, "\(perNode); late_max_ms \(late)")
        }
    }

    func testProgressLineOnlyOnATerminal() throws {
        let run = try LoadgenProcess(["--url", url, "--nodes", "2", "--rate", "5", "--duration", "1.5s"])
        XCTAssertEqual(try run.wait(), 0)
        XCTAssertEqual(run.stderr, "", "stderr is a pipe: no progress line")
        XCTAssertTrue(run.stdout.contains(" of 2 connected at the peak"), run.stdout)
    }
}
