import Foundation
@testable import TestSupport
import XCTest

/// The server on a pg_auto_failover pair (AutoFailoverFormation), through
/// the multi-host DATABASE_URL with target_session_attrs=read-write, under
/// 1,000 synthetic nodes, loses its primary: every message the generator
/// sent is on the new primary exactly once (`--verify`), with no operator
/// action. The longest stretch without a committed row (the ingestion
/// pause) is printed; docs/replicated-postgresql.md has the figures.
final class FailoverTests: XCTestCase {
    private var formation: AutoFailoverFormation?
    private var server: ServerProcess?

    override func setUpWithError() throws {
        let formation = try AutoFailoverFormation()
        self.formation = formation
        server = try ServerProcess(environment: ["DATABASE_URL": formation.url(), "LOG_LEVEL": "info"])
    }

    override func tearDown() {
        if let server, server.process.isRunning { _ = server.terminate(signal: SIGKILL) }
        server = nil
        formation?.destroy()
        formation = nil
    }

    func testPrimaryPostmasterKilledUnderLoadEveryMessageStoredOnceOnTheNewPrimary() throws {
        let formation = try XCTUnwrap(formation)
        try assertFailoverKeepsEveryMessage(formation, cause: "SIGKILL") {
            // Synchronous replication: while the standby's WAL receiver is
            // stopped the primary's commits wait for it, so batches are in
            // flight, their outcome unknown, when the primary dies. Only
            // while the monitor has the pair synchronous ("primary", not
            // "wait_primary", which a slow standby's report can cause on a
            // loaded machine): otherwise commits would not wait.
            try formation.waitForStates(["node1": "primary", "node2": "secondary"], seconds: 90)
            let node1 = try formation.node(named: "node1")
            let receiver = try formation.walReceiverPID(of: formation.node(named: "node2"))
            kill(receiver, SIGSTOP)
            // Continued at once: the promotion has to stop the receiver.
            defer { kill(receiver, SIGCONT) }
            // A message batch, not any statement of the write pool: its
            // commit waits until the kill, so it is sure to be in flight.
            eventually(30, "a batch of messages waiting for its commit") {
                let waiting = try TestDatabase.scalar(formation.url(of: node1), """
                    SELECT count(*) FROM pg_stat_activity
                    WHERE wait_event = 'SyncRep' AND query LIKE '%INSERT INTO tetcore_logs%'
                    """)
                return (waiting.flatMap { Int($0) } ?? 0) > 0
            }
            try formation.loseNode(node1)
        }
    }

    func testPerformFailoverUnderLoadEveryMessageStoredOnceOnTheNewPrimary() throws {
        let formation = try XCTUnwrap(formation)
        try assertFailoverKeepsEveryMessage(formation, cause: "perform failover") {
            try formation.performFailover()
        }
    }

    /// Starts the generator, runs `failover` once rows flow, waits for node2
    /// to be primary, and checks what was stored once sending has ended.
    private func assertFailoverKeepsEveryMessage(_ formation: AutoFailoverFormation, cause: String,
                                                 _ failover: () throws -> Void) throws {
        let server = try XCTUnwrap(server)
        let nodes = 1000
        let run = try LoadgenProcess([
            "--url", "ws://127.0.0.1:\(server.port)", "--nodes", "\(nodes)", "--rate", "1", "--ramp-up", "5s",
            "--duration", "30s", "--verify", formation.url(), "--verify-timeout", "120s", "--json",
        ])
        var samples = RowsWrittenSamples()
        try samples.collect(from: server, seconds: 60, until: { $0 > 5 * nodes })

        let lostAt = Date()
        try failover()
        var promotedAfter = 0.0
        try samples.collect(from: server, seconds: 90) { _ in
            let state = try? formation.states()["node2"]
            guard let state, ["primary", "wait_primary"].contains(state.reported), state.assigned == state.reported else { return false }
            promotedAfter = Date().timeIntervalSince(lostAt)
            return true
        }
        // Rows committed again after the failover, unless the generator has
        // ended: on a loaded machine the rows held during the outage can be
        // written before the promotion is seen, leaving fewer than 2 × nodes
        // to come (the generator's --verify then checks every one).
        let atPromotion = samples.latest
        try samples.collect(from: server, seconds: 60, until: { $0 > atPromotion + 2 * nodes || !run.process.isRunning })
        while run.process.isRunning { try samples.collect(from: server, seconds: 1, until: { _ in false }, failOnTimeout: false) }

        XCTAssertEqual(try run.wait(180), 0, run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stderr)
        let messages = try XCTUnwrap(summary["messages"] as? Int)
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any])
        XCTAssertNil(verify["failure"], "\(verify)")
        XCTAssertEqual(verify["stored"] as? Int, messages, "\(verify)")
        XCTAssertEqual(verify["missing"] as? Int, 0, "\(verify)")
        XCTAssertEqual(verify["duplicated"] as? Int, 0, "\(verify)")
        XCTAssertEqual(summary["unconfirmed"] as? Int, 0, "no node connection dropped: the server stayed up")

        // node2, alone, is the new primary and holds every row once.
        let node2 = try formation.node(named: "node2")
        let counts = try TestDatabase.exec(formation.url(of: node2), """
            SELECT pg_is_in_recovery(), count(*), count(DISTINCT (l.peer_connection_id, l.logs->>'loadgen_seq'))
            FROM tetcore_logs l
            """).first ?? []
        XCTAssertEqual(counts, ["f", "\(messages)", "\(messages)"])
        XCTAssertTrue(server.process.isRunning)
        XCTAssertEqual(try server.get("/readyz").status, 200)

        let pause = samples.longestStall
        let retries = Int(try Scrape.of(server)["tetcore_batch_retries_total"] ?? -1)
        print("failover (\(cause)) under \(nodes) nodes: \(messages) messages, node2 primary after "
            + String(format: "%.1f s, ingestion paused %.1f s (longest stretch without a committed row, ", promotedAfter, pause)
            + "from tetcore_rows_written_total every 200 ms), \(retries) batch sends repeated")
        XCTAssertGreaterThan(pause, 0)
        // A write connection that PostgreSQL closed without a word had a
        // batch in flight: a backend waiting in SyncRep exits silently when
        // its postmaster dies, where an idle one first sends "terminating
        // connection due to unexpected postmaster exit". Such a batch must
        // have been sent again. When every write connection got that
        // message, the batch seen waiting before the kill had been released
        // in between (the monitor can turn the pair asynchronous), and no
        // repeat is due: that it is stored once is what the counts assert.
        let cutOff = server.log.split(separator: "\n").contains {
            $0.contains("connection=write-") && $0.contains("error=connection: server closed the connection unexpectedly")
        }
        if cutOff {
            XCTAssertGreaterThanOrEqual(retries, 1, "a batch cut off by the kill is counted as sent again")
        }
    }
}

/// tetcore_rows_written_total over time, sampled from /metrics.
struct RowsWrittenSamples {
    private(set) var samples: [(at: Date, rows: Int)] = []

    var latest: Int { samples.last?.rows ?? 0 }

    /// Samples every 200 ms until `condition` holds for the latest count
    /// (or `seconds` pass: a failure when `failOnTimeout`).
    mutating func collect(from server: ServerProcess, seconds: Double, until condition: (Int) throws -> Bool,
                          failOnTimeout: Bool = true) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let rows = try? Scrape.of(server)["tetcore_rows_written_total"] {
                samples.append((Date(), Int(rows)))
                if try condition(Int(rows)) { return }
            }
            usleep(200_000)
        }
        if failOnTimeout { throw TestFailure("timed out after \(seconds) s; rows written: \(latest)") }
    }

    /// The longest time between two samples with no row written in
    /// between, after the first rows: the ingestion pause.
    var longestStall: Double {
        var longest = 0.0
        var lastIncrease: (at: Date, rows: Int)?
        for sample in samples where sample.rows > 0 {
            guard let previous = lastIncrease else { lastIncrease = sample; continue }
            if sample.rows > previous.rows {
                longest = max(longest, sample.at.timeIntervalSince(previous.at))
                lastIncrease = sample
            }
        }
        return longest
    }
}
