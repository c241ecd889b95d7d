import Foundation
@testable import TestSupport
import XCTest

/// tetcore-loadgen against a server whose database does not keep up: the
/// server stops reading (backpressure) and the generator's messages wait
/// in socket buffers when sending ends. With a close timeout long enough
/// the run waits for the server to read them all; with a short one it
/// gives up and says how many messages may not have arrived.
///
/// The database is held back by a session that locks `tetcore_logs`
/// against writes (reads still work, so --verify can watch); the server,
/// with a 1 MiB buffer budget, pauses its sockets almost at once.
final class LoadgenDrainTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["MAX_BUFFERED_BYTES": String(1 << 20), "INGEST_MAX_BYTES_PER_S": String(1 << 40), "DB_SAVE_LATENCY_MS": "20"]
    }

    private var url: String { "ws://127.0.0.1:\(server.port)" }

    func testGenerousCloseTimeoutWaitsUntilTheServerHasReadEverything() throws {
        let lock = try database.holdLock(on: "tetcore_logs", mode: "EXCLUSIVE")
        let run = try LoadgenProcess([
            "--url", url, "--nodes", "4", "--rate", "max", "--duration", "2s", "--close-timeout", "60s",
            "--verify", database.url, "--json",
        ])
        // Sending has ended and the nodes wait for the server to read.
        eventually(30, "the generator waits for the server") {
            run.stderr.contains("nodes are waiting for the server to read what they sent before they close")
        }
        XCTAssertTrue(run.process.isRunning)
        XCTAssertEqual(try metric("tetcore_backpressure_active"), 1, "the server had paused its sockets")
        lock.release()

        XCTAssertEqual(try run.wait(300), 0, run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let messages = try XCTUnwrap(summary["messages"] as? Int)
        let close = try XCTUnwrap(summary["close"] as? [String: Any])
        XCTAssertEqual(close["aborted_nodes"] as? Int, 0)
        XCTAssertEqual(close["possibly_lost"] as? Int, 0)
        XCTAssertGreaterThan(close["seconds"] as? Double ?? 0, 1)
        XCTAssertEqual(summary["unconfirmed"] as? Int, 0)
        XCTAssertEqual(summary["errors"] as? [String: Int], [:])
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any])
        XCTAssertEqual(verify["stored"] as? Int, messages)
        XCTAssertEqual(verify["missing"] as? Int, 0)
        XCTAssertEqual(verify["duplicated"] as? Int, 0)
        // Every message counted as sent is a row, once.
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), messages)
        XCTAssertEqual(count("SELECT count(DISTINCT (peer_connection_id, logs->>'loadgen_seq')) FROM tetcore_logs"), messages)
        print("drain, generous close timeout: \(messages) messages sent, \(count("SELECT count(*) FROM tetcore_logs")) rows, "
            + "closing took \(close["seconds"] ?? "?") s")
    }

    func testShortCloseTimeoutCountsWhatMayNotHaveArrived() throws {
        let lock = try database.holdLock(on: "tetcore_logs", mode: "EXCLUSIVE")
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", url, "--nodes", "4", "--rate", "max", "--duration", "2s", "--close-timeout", "1s",
        ])
        XCTAssertEqual(status, 0)
        let messages = try XCTUnwrap(summary["messages"] as? Int)
        let close = try XCTUnwrap(summary["close"] as? [String: Any])
        XCTAssertEqual(close["timeout_seconds"] as? Double, 1)
        XCTAssertEqual(close["aborted_nodes"] as? Int, 4)
        let lost = try XCTUnwrap(close["possibly_lost"] as? Int)
        let unacknowledged = try XCTUnwrap(close["sent_unacknowledged"] as? Int)
        let notSent = try XCTUnwrap(close["not_sent"] as? Int)
        XCTAssertEqual(lost, unacknowledged + notSent)
        // The server read nothing for a second while messages waited in
        // this side's kernel: they were never acknowledged.
        XCTAssertGreaterThan(unacknowledged, 0)
        XCTAssertLessThan(unacknowledged, messages)
        XCTAssertEqual(summary["unconfirmed"] as? Int, lost)
        XCTAssertEqual((summary["errors"] as? [String: Int])?["close: timed out"], 4)

        // The server stores what it did read once the database is back.
        lock.release()
        eventually(120, "the server has stored what it read and closed the connections") {
            try self.metric("tetcore_buffered_rows") == 0 && self.metric("tetcore_event_loop_connections") == 0
        }
        let rows = count("SELECT count(*) FROM tetcore_logs")
        XCTAssertLessThanOrEqual(rows, messages)
        XCTAssertEqual(count("SELECT count(DISTINCT (peer_connection_id, logs->>'loadgen_seq')) FROM tetcore_logs"), rows)
        print("drain, 1 s close timeout: \(messages) messages sent, \(rows) rows stored, \(messages - rows) missing; "
            + "reported possibly lost: \(lost) (\(notSent) not sent, \(unacknowledged) sent and unacknowledged)")
    }

    /// The sum of a metric's samples on the server's /metrics.
    private func metric(_ name: String) throws -> Double {
        let (status, body) = try server.get("/metrics")
        guard status == 200 else { throw TestFailure("/metrics answered \(status)") }
        var total = 0.0
        var found = false
        for line in body.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) {
                total += value
                found = true
            }
        }
        guard found else { throw TestFailure("no \(name) in /metrics") }
        return total
    }
}
