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
        // Another session holds the table for 12 s: inserts wait, the
        // 1 MiB buffer fills in about 7 s, then node sockets pause.
        let locker = try database.holdLock(on: "tetcore_logs", seconds: 12)
        node.startStreaming()
        eventually(15, "node sockets paused") { try self.metric("tetcore_backpressure_active") == 1 }
        locker.waitUntilExit()
        eventually(10, "node sockets resumed") { try self.metric("tetcore_backpressure_active") == 0 }
        sleep(3) // two rate windows after the burst
        let sent = node.stopStreaming()

        eventually(20, "all \(sent) rows") { self.count("SELECT count(*) FROM tetcore_logs") == sent }
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
