import Foundation
@testable import PostgresClient
@testable import TestSupport
import XCTest

/// The old primary of a failover, as FailoverTests met it: fast shutdown
/// sends an idle session its FATAL, but the backend's exit drops a
/// temporary table (the generator's verifier keeps one), so it commits and
/// waits for a synchronous standby that is gone, with its socket open. The
/// connection must count as lost at the FATAL: a statement sent to that
/// backend would never be answered (the verifier hung so, and with it the
/// test).
///
/// On a cluster of its own: the suite's shared one runs without WAL
/// senders, so nothing ever waits for a standby there.
final class LingeringBackendTests: StorageTestCase {
    private var cluster: DisposableCluster?

    override func tearDown() {
        super.tearDown()
        cluster?.destroy()
        cluster = nil
    }

    func testAFatalWhileIdleEndsTheSessionThoughTheBackendLingers() throws {
        let cluster = try DisposableCluster()
        self.cluster = cluster
        let connection = connect(conninfo: cluster.url)
        rows(connection, "CREATE TEMPORARY TABLE lingering (a int)")
        let pid = try XCTUnwrap(rows(connection, "SELECT pg_backend_pid()")?.string(0, 0))
        var disconnect: PGError?
        connection.onDisconnect = { disconnect = $0 }
        try TestDatabase.exec(cluster.url, "ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        try TestDatabase.exec(cluster.url, "SELECT pg_reload_conf()")
        try waitUntilCommitsWaitForTheStandby(cluster)

        try TestDatabase.exec(cluster.url, "SELECT pg_terminate_backend(\(pid))")
        LoopRunner.run(loop) { disconnect != nil }
        XCTAssertEqual(disconnect?.kind, .connection)
        XCTAssertEqual(connection.state, .idle)
        XCTAssertEqual(try waitEvent(of: pid, on: cluster), "SyncRep", "the backend still waits in its exit: the case under test")
    }

    /// Returns once the reloaded setting is in force: a commit of another
    /// session waits for the standby (the wait is then cancelled; the
    /// commit stands).
    private func waitUntilCommitsWaitForTheStandby(_ cluster: DisposableCluster) throws {
        let probe = connect(conninfo: cluster.url)
        let probePID = try XCTUnwrap(rows(probe, "SELECT pg_backend_pid()")?.string(0, 0))
        for attempt in 1...100 {
            var done = false
            probe.query("CREATE TABLE probe_\(attempt) (a int)") { _ in done = true }
            // Either it commits (the setting not in force yet) or it waits.
            LoopRunner.run(loop) { done || (try? self.waitEvent(of: probePID, on: cluster)) == "SyncRep" }
            if done { continue }
            try TestDatabase.exec(cluster.url, "SELECT pg_cancel_backend(\(probePID))")
            LoopRunner.run(loop) { done }
            return
        }
        XCTFail("commits never waited for the synchronous standby")
    }

    /// What the backend `pid` waits for now, if anything.
    private func waitEvent(of pid: String, on cluster: DisposableCluster) throws -> String? {
        try TestDatabase.scalar(cluster.url, "SELECT wait_event FROM pg_stat_activity WHERE pid = \(pid)")
    }
}
