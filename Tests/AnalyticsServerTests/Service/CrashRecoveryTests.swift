import Foundation
@testable import TestSupport
import XCTest

/// The server killed with SIGKILL mid-stream and started again: nodes
/// reconnect, nothing is stored twice, and what is lost is bounded by what
/// the server held uncommitted at the moment of the kill (rows younger
/// than DB_SAVE_LATENCY_MS plus batches in flight) and what sat unread in
/// socket buffers.
final class CrashRecoveryTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "20"] }

    func testAKilledServerLosesAtMostItsUncommittedTailAndNothingIsDuplicated() throws {
        let port = server.port
        let nodes = 20, rate = 20
        let run = try LoadgenProcess([
            "--url", "ws://127.0.0.1:\(port)", "--nodes", String(nodes), "--rate", String(rate), "--duration", "8s",
            "--verify", database.url, "--verify-timeout", "20s", "--json",
        ])
        eventually(10, "nodes connected") { self.count("SELECT count(*) FROM peer_connections") == nodes }
        usleep(2_000_000)
        _ = server.terminate(signal: SIGKILL)
        server = try ServerProcess(environment: ["DATABASE_URL": database.url, "PORT": String(port),
                                                 "DB_SAVE_LATENCY_MS": "20"], waitUntilReady: false)
        eventually(30, "restarted server ready") {
            let client = try RawClient(port: port)
            try client.send("GET /readyz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            return try client.readHTTPResponse().status == 200
        }

        _ = try run.wait()
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stderr)
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any], run.stdout)
        let missing = try XCTUnwrap(verify["missing"] as? Int)
        XCTAssertEqual(verify["duplicated"] as? Int, 0, run.stdout)
        XCTAssertEqual(summary["reconnects"] as? Int, nodes, "every node came back")
        // A quarter of a second of the whole fleet's traffic: the 20 ms batch
        // window, a commit in flight, and what the nodes wrote before they
        // saw the connection die.
        XCTAssertLessThanOrEqual(missing, nodes * rate / 4, run.stdout)
        print("SIGKILL lost \(missing) of \(summary["messages"] ?? "?") messages")
    }
}
