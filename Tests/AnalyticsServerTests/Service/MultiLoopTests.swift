import Foundation
@testable import TestSupport
import XCTest

/// NUM_THREADS=2: two event loops share the port; nodes land on both, every
/// message is stored once, /metrics gives the process's totals whichever
/// loop answers, the connection limit holds for the process, and SIGTERM
/// drains both loops.
final class MultiLoopTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["NUM_THREADS": "2", "DB_SAVE_LATENCY_MS": "20"] }

    /// /readyz waits for every loop's write connection; the query pools
    /// connect at the same time but are not part of it: wait for both
    /// (DB_POOL_SIZE and DB_QUERY_POOL_SIZE 2: one each per loop).
    override func startServer(_ environment: [String: String] = [:]) throws -> ServerProcess {
        let started = try super.startServer(environment)
        eventually(60, "both loops connected to PostgreSQL") {
            let scrape = try Scrape.of(started)
            return scrape[#"tetcore_database_connections_open{pool="write"}"#] == 2
                && scrape[#"tetcore_database_connections_open{pool="query"}"#] == 2
        }
        return started
    }

    private func loopConnections(_ scrape: Scrape) -> [Double] {
        [scrape[#"tetcore_event_loop_connections{loop="0"}"#] ?? -1, scrape[#"tetcore_event_loop_connections{loop="1"}"#] ?? -1]
    }

    func testTwoHundredNodesAreSpreadOverBothLoopsAndEveryMessageIsStoredOnce() throws {
        // No --duration: every node stays connected until the test has seen
        // all 200 at once and enough stored, however slowly they came.
        let run = try LoadgenProcess([
            "--url", "ws://127.0.0.1:\(server.port)", "--nodes", "200", "--rate", "5",
            "--verify", database.url, "--json",
        ])
        var during: Scrape?
        eventually(120, "200 nodes connected") {
            let scrape = try Scrape.of(self.server)
            during = scrape
            return scrape["current_tetcore_connections"] == 200
        }
        let perLoop = loopConnections(try XCTUnwrap(during))
        XCTAssertGreaterThan(perLoop[0], 0, "loop 0 has nodes")
        XCTAssertGreaterThan(perLoop[1], 0, "loop 1 has nodes")
        XCTAssertEqual(perLoop[0] + perLoop[1], 200, "the per-loop gauges add up to the process's")
        eventually(120, "more than 20 rows a node stored") { self.count("SELECT count(*) FROM tetcore_logs") > 200 * 20 }
        run.interrupt()

        XCTAssertEqual(try run.wait(), 0, run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((summary["nodes"] as? [String: Int])?["connected_peak"], 200, "the generator saw all 200 open at once too")
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any], run.stdout)
        XCTAssertEqual(verify["missing"] as? Int, 0, run.stdout)
        XCTAssertEqual(verify["duplicated"] as? Int, 0, run.stdout)
        let stored = count("SELECT count(*) FROM tetcore_logs")
        XCTAssertGreaterThan(stored, 200 * 20)
        // Several scrapes: each may be answered by either loop, and each
        // must give the whole process's totals.
        eventually(60, "every node gone") { try Scrape.of(self.server)["nodes_dropped_count"] == 200 }
        for _ in 0..<6 {
            let scrape = try Scrape.of(server)
            XCTAssertEqual(scrape["tetcore_message_count"], Double(stored))
            XCTAssertEqual(scrape["tetcore_rows_written_total"], Double(stored))
            XCTAssertEqual(scrape["nodes_connected_count"], 200)
            XCTAssertEqual(scrape["tetcore_database_connections_open{pool=\"write\"}"], 2, "DB_POOL_SIZE 2: one per loop")
        }
    }

    func testReadyzAnswersForEveryLoopWhicheverAnswers() throws {
        for _ in 0..<6 {
            let (status, body) = try server.get("/readyz")
            XCTAssertEqual(status, 200)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            XCTAssertEqual(object["database_connections_ready"] as? Int, 2, body)
        }
    }

    func testMaxConnectionsHoldsForTheWholeProcess() throws {
        let limited = try startServer(["MAX_CONNECTIONS": "10"])
        var admitted: [RawClient] = []
        var refused = 0
        for _ in 0..<30 {
            let client = try RawClient(port: limited.port)
            switch try client.upgrade() {
            case 101: admitted.append(client)
            case 503: refused += 1
            case let status: XCTFail("upgrade answered \(status)")
            }
        }
        XCTAssertEqual(admitted.count, 10)
        XCTAssertEqual(refused, 20)
        let scrape = try Scrape.of(limited)
        XCTAssertEqual(loopConnections(scrape).reduce(0, +), 10)
        XCTAssertEqual(scrape[#"tetcore_connections_refused_total{reason="too_many_connections"}"#], 20)

        // A close on either loop frees a slot for an upgrade on either loop.
        for client in admitted.prefix(4) { try client.send(RawClient.frame(opcode: 0x8, [0x03, 0xE8])) }
        eventually(60, "four slots free") { self.loopConnections(try Scrape.of(limited)).reduce(0, +) == 6 }
        var statuses: [Int] = []
        for _ in 0..<6 {
            let client = try RawClient(port: limited.port)
            statuses.append(try client.upgrade())
            admitted.append(client)
        }
        XCTAssertEqual(statuses.filter { $0 == 101 }.count, 4, "\(statuses)")
        XCTAssertEqual(statuses.filter { $0 == 503 }.count, 2, "\(statuses)")
    }

    func testSIGTERMDrainsEveryLoopAndExitsZero() throws {
        // Nothing is written before the shutdown: every row is in a loop's
        // open batch when SIGTERM comes.
        let slow = try startServer(["DB_SAVE_LATENCY_MS": "60000", "DB_BATCH_SIZE": "100000"])
        var clients: [RawClient] = []
        for node in 0..<40 {
            let client = try RawClient(port: slow.port)
            XCTAssertEqual(try client.upgrade(), 101)
            for index in 0..<25 {
                try client.sendText(#"{"msg":"late","ts":"2026-11-29T09:00:00Z","node":\#(node),"n":\#(index)}"#)
            }
            clients.append(client)
        }
        eventually(60, "every message received") { try Scrape.of(slow)["tetcore_message_count"] == 1000 }
        let perLoop = loopConnections(try Scrape.of(slow))
        XCTAssertTrue(perLoop[0] > 0 && perLoop[1] > 0, "nodes on both loops: \(perLoop)")
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 0, "still buffered")

        kill(slow.process.processIdentifier, SIGTERM)
        for client in clients {
            XCTAssertEqual(try client.readCloseCode(), 1001)
            try client.send(RawClient.frame(opcode: 0x8, [0x03, 0xE9]))
        }
        slow.process.waitUntilExit()
        XCTAssertEqual(slow.process.terminationStatus, 0, slow.log)
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 1000)
        XCTAssertEqual(count("SELECT count(DISTINCT (logs->>'node', logs->>'n')) FROM tetcore_logs"), 1000)
    }

    func testLoopZeroWaitsForALoopThatDrainsLaterAndExitsZero() throws {
        let slow = try startServer(["DB_SAVE_LATENCY_MS": "60000", "DB_BATCH_SIZE": "100000"])
        // Which loop took each node: the gauge that went up by one.
        var byLoop: [[RawClient]] = [[], []]
        var before = loopConnections(try Scrape.of(slow))
        while byLoop[0].count < 3 || byLoop[1].count < 3 {
            let client = try RawClient(port: slow.port)
            XCTAssertEqual(try client.upgrade(), 101)
            try client.sendText(#"{"msg":"late","ts":"2026-11-29T09:00:00Z"}"#)
            let after = loopConnections(try Scrape.of(slow))
            let loop = after[0] > before[0] ? 0 : 1
            byLoop[loop].append(client)
            before = after
            XCTAssertLessThan(byLoop[0].count + byLoop[1].count, 100, "the kernel put every node on one loop")
        }
        let nodes = byLoop[0].count + byLoop[1].count

        // Loop 0's nodes answer the 1001 at once, loop 1's a second later:
        // loop 0 is done first and must wait for loop 1 before exiting.
        kill(slow.process.processIdentifier, SIGTERM)
        for client in byLoop[0] {
            XCTAssertEqual(try client.readCloseCode(), 1001)
            try client.send(RawClient.frame(opcode: 0x8, [0x03, 0xE9]))
        }
        usleep(1_000_000)
        XCTAssertTrue(slow.process.isRunning, "loop 1 still has nodes to close")
        for client in byLoop[1] {
            XCTAssertEqual(try client.readCloseCode(), 1001)
            try client.send(RawClient.frame(opcode: 0x8, [0x03, 0xE9]))
        }
        slow.process.waitUntilExit()
        XCTAssertEqual(slow.process.terminationStatus, 0, slow.log)
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), nodes)
    }
}
