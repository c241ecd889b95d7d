import Foundation
@testable import TestSupport
import XCTest

/// While the server keeps node sockets paused (backpressure), what nodes
/// send waits in the kernel and arrives all at once when reading resumes.
/// A node that stayed under INGEST_MAX_BYTES_PER_S must not be closed for
/// that burst: it is the server's delay, not the node's rate.
final class BackpressureRateLimitTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["MAX_BUFFERED_BYTES": "1048576", "INGEST_MAX_BYTES_PER_S": "204800", "INGEST_RATE_WINDOW_S": "2",
         "DB_SAVE_LATENCY_MS": "20"]
    }

    func testTheBacklogReadAfterBackpressureDoesNotCountAgainstTheRateLimit() throws {
        // 150 KB/s: three quarters of the limit.
        let node = try StreamingNode(port: server.port, messagesPerSecond: 150)
        // Another session holds the table until the sockets are paused:
        // inserts wait, the 1 MiB buffer fills in about 7 s, then node
        // sockets pause.
        let locker = try database.holdLock(on: "tetcore_logs")
        defer { locker.release() }
        node.startStreaming()
        eventually(120, "node sockets paused") { try self.metric("tetcore_backpressure_active") == 1 }
        locker.release()
        eventually(60, "node sockets resumed") { try self.metric("tetcore_backpressure_active") == 0 }
        // The burst, then two rate windows of the node's traffic after it
        // (150 a second), read and stored by the server: the limiter has had
        // every chance to count the burst.
        let afterBurst = node.sentSoFar + 2 * 2 * 150
        eventually(120, "two rate windows after the burst stored") { self.count("SELECT count(*) FROM tetcore_logs") >= afterBurst }
        let sent = try XCTUnwrap(node.stopStreaming(within: 60), "the node's send blocked for 60 s: the server stopped reading")

        eventually(60, "all \(sent) rows") { self.count("SELECT count(*) FROM tetcore_logs") == sent }
        XCTAssertEqual(count("SELECT count(DISTINCT (logs->>'n')::int) FROM tetcore_logs"), sent)
        XCTAssertEqual(try metric("tetcore_rate_limit_closes_total"), 0)
        XCTAssertGreaterThan(try metric("tetcore_backpressure_paused_seconds_total"), 0)
    }

    private func metric(_ name: String) throws -> Double {
        let body = try server.get("/metrics").body
        guard let line = body.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }),
              let value = Double(line.split(separator: " ")[1]) else { throw TestFailure("no \(name) in /metrics") }
        return value
    }
}
