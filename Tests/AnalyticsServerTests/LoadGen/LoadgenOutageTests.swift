import Foundation
@testable import TestSupport
import XCTest

/// `tetcore-loadgen --verify` when PostgreSQL goes away during the run:
/// the verifier's connection is lost with everyone else's, and it must
/// connect again and still check every message, since checking exactly
/// that is what it is for. The cluster is a private one (DisposableCluster)
/// so that the test may stop it.
final class LoadgenOutageTests: XCTestCase {
    private var cluster: DisposableCluster?
    private var server: ServerProcess?

    override func setUpWithError() throws {
        let cluster = try DisposableCluster()
        self.cluster = cluster
        server = try ServerProcess(environment: ["DATABASE_URL": cluster.url, "DB_SAVE_LATENCY_MS": "20"])
    }

    override func tearDown() {
        if let server, server.process.isRunning { _ = server.terminate(signal: SIGKILL) }
        server = nil
        cluster?.destroy()
        cluster = nil
    }

    func testVerifySurvivesPostgreSQLStoppedAndStartedMidRun() throws {
        let cluster = try XCTUnwrap(cluster), server = try XCTUnwrap(server)
        let run = try LoadgenProcess([
            "--url", "ws://127.0.0.1:\(server.port)", "--nodes", "20", "--rate", "20", "--duration", "8s",
            "--verify", cluster.url, "--json",
        ])
        eventually(10, "the first rows") { try cluster.count("SELECT count(*) FROM tetcore_logs") > 100 }
        try cluster.stopImmediately()
        eventually(10, "the generator saw the connection go") {
            run.stderr.contains("tetcore-loadgen: verify: lost the connection to PostgreSQL")
        }
        XCTAssertTrue(run.process.isRunning, "still sending: the outage is mid-run")
        try cluster.start()
        eventually(30, "the generator connected again") {
            run.stderr.contains("tetcore-loadgen: verify: connected to PostgreSQL again after")
        }

        XCTAssertEqual(try run.wait(120), 0, run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        try assertEveryMessageStoredOnce(summary, cluster)
    }

    func testVerifyWaitsForPostgreSQLStillDownWhenSendingEnds() throws {
        let cluster = try XCTUnwrap(cluster), server = try XCTUnwrap(server)
        let run = try LoadgenProcess([
            "--url", "ws://127.0.0.1:\(server.port)", "--nodes", "20", "--rate", "20", "--duration", "3s",
            "--verify", cluster.url, "--verify-timeout", "90s", "--json",
        ])
        eventually(10, "the first rows") { try cluster.count("SELECT count(*) FROM tetcore_logs") > 100 }
        try cluster.stopImmediately()
        // Sending ends with PostgreSQL still down: the verification waits.
        eventually(30, "the generator waits for PostgreSQL to verify") {
            run.stderr.contains("tetcore-loadgen: verify: sending has ended; waiting for PostgreSQL")
        }
        XCTAssertTrue(run.process.isRunning)
        try cluster.start()

        XCTAssertEqual(try run.wait(120), 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("tetcore-loadgen: verify: connected to PostgreSQL again after"), run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        try assertEveryMessageStoredOnce(summary, cluster)
    }

    private func assertEveryMessageStoredOnce(_ summary: [String: Any], _ cluster: DisposableCluster,
                                              file: StaticString = #filePath, line: UInt = #line) throws {
        let messages = try XCTUnwrap(summary["messages"] as? Int, file: file, line: line)
        XCTAssertGreaterThan(messages, 20 * 20, file: file, line: line)
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any], file: file, line: line)
        XCTAssertNil(verify["failure"], "\(verify)", file: file, line: line)
        XCTAssertEqual(verify["stored"] as? Int, messages, file: file, line: line)
        XCTAssertEqual(verify["missing"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(verify["duplicated"] as? Int, 0, file: file, line: line)
        XCTAssertEqual(verify["timed_out"] as? Bool, false, file: file, line: line)
        XCTAssertEqual(try cluster.count("SELECT count(*) FROM tetcore_logs"), messages, file: file, line: line)
    }
}
