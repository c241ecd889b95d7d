import Foundation
@testable import TestSupport
import XCTest

/// The short soak: benchmarks/soak.py for two minutes with this build's
/// executables (the debug build under `swift test`), thousands of realistic
/// nodes, feed clients and API queries, judged on the script's JSON summary.
final class SoakTests: XCTestCase {
    static let seconds = 120
    static let nodes = 5000

    func testMemoryAndDescriptorsStayFlatAndEveryMessageIsStoredOnce() throws {
        if let sanitizer = SanitizedBuild.name {
            throw XCTSkip("the soak judges resident memory, which a \(sanitizer) sanitizer build inflates by design")
        }
        guard let admin = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !admin.isEmpty else {
            throw TestFailure("TEST_DATABASE_URL is not set: point it at a PostgreSQL server, "
                + "e.g. postgres://postgres@127.0.0.1:54329/postgres, or run the tests with scripts/test")
        }
        let run = try runSoak(admin: admin)
        let summary = run.summary
        XCTAssertEqual(run.status, 0, "soak.py failed:\n\(run.output)")
        XCTAssertEqual(summary["ok"] as? Bool, true)
        XCTAssertEqual((summary["failures"] as? [String])?.count, 0, "\(summary["failures"] ?? "")")

        // Flat after the warm-up: medians of the first and last windows.
        let rssGrowth = try XCTUnwrap(summary["rss_growth_pct"] as? Double)
        let fdsGrowth = try XCTUnwrap(summary["fds_growth_pct"] as? Double)
        XCTAssertLessThan(rssGrowth, 5, "resident memory grew:\n\(run.output)")
        XCTAssertLessThan(fdsGrowth, 5, "open descriptors grew:\n\(run.output)")
        // Every node holds one descriptor on the server the whole time.
        let fdsLast = try XCTUnwrap(summary["fds_last"] as? Double)
        XCTAssertGreaterThanOrEqual(Int(fdsLast), SoakTests.nodes)

        // Every message sent was stored exactly once.
        let loadgen = try XCTUnwrap(summary["loadgen"] as? [String: Any])
        XCTAssertEqual(loadgen["connected_peak"] as? Int, SoakTests.nodes)
        XCTAssertEqual(loadgen["missing"] as? Int, 0)
        XCTAssertEqual(loadgen["duplicated"] as? Int, 0)
        XCTAssertEqual(loadgen["reconnects"] as? Int, 0)
        XCTAssertEqual((loadgen["errors"] as? [String: Any])?.count, 0)
        let messages = try XCTUnwrap(loadgen["messages"] as? Int)
        XCTAssertEqual(loadgen["stored"] as? Int, messages)
        XCTAssertEqual(summary["rows_written"] as? Int, messages, "the server committed each message once")
        // The realistic profile: about 100 messages a minute per node.
        XCTAssertGreaterThan(messages, SoakTests.nodes * 100, "the load was not held")

        let api = try XCTUnwrap(summary["api"] as? [String: Any])
        XCTAssertGreaterThan(api["requests"] as? Int ?? 0, 100)
        XCTAssertEqual(api["failures"] as? Int, 0)
        XCTAssertEqual(api["server_5xx"] as? Int, 0)

        let feed = try XCTUnwrap(summary["feed"] as? [String: Any])
        XCTAssertEqual(feed["clients"] as? Int, 5)
        XCTAssertEqual(feed["disconnects"] as? Int, 0)
        XCTAssertEqual(feed["errors"] as? Int, 0)
        XCTAssertGreaterThan(feed["items"] as? Int ?? 0, 0)

        let log = try XCTUnwrap(summary["server_log"] as? [String: Any])
        XCTAssertEqual(log["errors"] as? Int, 0)
    }

    /// Runs the script to its end; returns its exit status, everything it
    /// printed and its last line (the JSON summary) parsed.
    private func runSoak(admin: String) throws -> (status: Int32, output: String, summary: [String: Any]) {
        let root = ServerProcess.repositoryRoot
        let products = ServerProcess.productsDirectory
        var environment = ProcessInfo.processInfo.environment
        environment["ADMIN_DATABASE_URL"] = admin
        environment["SERVER_BINARY"] = products.appendingPathComponent("tetcore-analytics").path
        environment["LOADGEN_BINARY"] = products.appendingPathComponent("tetcore-loadgen").path
        // The soak judges memory, descriptors and exactly-once storage, not
        // how soon a stalled peer is dropped (BrokenPeerTests do): on a busy
        // machine the debug generator's one loop for 5,000 nodes can stall
        // past the default 10 s, and live nodes would be dropped for it.
        environment["CLIENT_TIMEOUT_S"] = environment["CLIENT_TIMEOUT_S"] ?? "120"
        // The script bounds its own run (duration, then at most --verify-timeout).
        let run = try ChildProcess.run("/usr/bin/env", ["python3", root.appendingPathComponent("benchmarks/soak.py").path,
                                                        "--duration", String(SoakTests.seconds), "--nodes", String(SoakTests.nodes)],
                                       environment: environment, directory: root)
        guard let last = run.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let summary = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] else {
            throw TestFailure("soak.py printed no JSON summary (exit status \(run.status)):\n\(run.output)")
        }
        return (run.status, run.output, summary)
    }
}
