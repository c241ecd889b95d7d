import Foundation
@testable import TestSupport
import XCTest

/// PostgreSQL's disk fills up under a live ingestion stream, then space
/// comes back.
///
/// The cluster's data directory, WAL included, lives on a small tmpfs of
/// its own, filled with a ballast file until only `headroomBytes` are free.
/// What PostgreSQL does then depends on which file needs a new block first:
/// - a table or index extension gets ENOSPC: the INSERT fails with SQLSTATE
///   53100 ("could not extend file"), the transaction rolls back, PostgreSQL
///   stays up. WAL segments are preallocated (16 MB each), so with a
///   steady stream this is what happens first.
/// - a new WAL segment cannot be created: the backend PANICs, the
///   postmaster restarts every backend, crash recovery cannot write its end
///   of recovery and the postmaster shuts down. An operator starts it again
///   once there is space.
/// Either way the server must keep every accepted row, keep answering, hold
/// its memory at MAX_BUFFERED_BYTES, and store each row once afterwards.
///
/// Needs to mount a tmpfs (root or CAP_SYS_ADMIN, as in scripts/test and
/// CI); set SKIP_DISK_FULL_TESTS=1 to skip them where that is not allowed.
final class DiskFullTests: XCTestCase {
    private static let diskBytes = 96 << 20
    private static let headroomBytes = 256 << 10
    private static let maxBufferedBytes = 1 << 20

    private var disk: TmpfsMount?
    private var cluster: DisposableCluster?
    private var server: ServerProcess?
    private var ballastPath: String { (disk?.path ?? "") + "/ballast" }

    override func setUpWithError() throws {
        cluster = try DisposableCluster { root in
            let mount = try TmpfsMount(at: root + "/disk", bytes: DiskFullTests.diskBytes, owner: "postgres")
            self.disk = mount
            return mount.path + "/data"
        }
    }

    override func tearDown() {
        if let server, server.process.isRunning { _ = server.terminate(signal: SIGKILL) }
        server = nil
        cluster?.destroy()
        disk?.unmount() // also when the test failed half-way
        if let root = cluster?.root { try? FileManager.default.removeItem(atPath: root) }
        cluster = nil
        disk = nil
    }

    func testInsertsThatCannotExtendATableAreRetriedAndEveryRowIsStoredOnce() throws {
        let outcome = try runDiskFull(forceNewWALSegment: false)
        XCTAssertTrue(outcome.postgresStayedUp, "a full data file is an error for the statement, not a crash")
        XCTAssertTrue(outcome.serverLog.contains("could not extend file"), "the INSERT's error reached the log")
    }

    func testAWALThatCannotGrowPanicsPostgreSQLAndARestartRecoversEveryRow() throws {
        let outcome = try runDiskFull(forceNewWALSegment: true)
        XCTAssertFalse(outcome.postgresStayedUp, "PostgreSQL shuts down when it cannot write WAL")
        XCTAssertTrue(outcome.serverLog.contains("PostgreSQL connection lost"), "the server saw its connections go")
    }

    private struct Outcome {
        let postgresStayedUp: Bool
        let serverLog: String
    }

    /// The whole scenario; asserts what both kinds of full disk share.
    private func runDiskFull(forceNewWALSegment: Bool) throws -> Outcome {
        let cluster = try XCTUnwrap(cluster)
        let server = try ServerProcess(environment: [
            "DATABASE_URL": cluster.url, "DB_SAVE_LATENCY_MS": "20",
            "MAX_BUFFERED_BYTES": String(DiskFullTests.maxBufferedBytes),
        ])
        self.server = server
        let node = try StreamingNode(port: server.port)
        try node.send(100)
        eventually(60, "the first rows before the disk fills") { try cluster.count("SELECT count(*) FROM tetcore_logs") == 100 }

        try fillDisk()
        if forceNewWALSegment {
            // The next WAL record needs a segment the disk has no room for.
            _ = try TestDatabase.exec(cluster.url, "SELECT pg_switch_wal()")
        }
        node.startStreaming()

        // Full for 8 s: long enough for several retries and for the buffer
        // to reach MAX_BUFFERED_BYTES (1 MiB: 5 s of this node's messages),
        // and longer if the buffer has not reached it yet (a busy machine).
        let cpuBefore = try cpuSeconds(server)
        let fullSince = Date()
        var maxBufferedBytes = 0
        var sawBackpressure = false
        while Date().timeIntervalSince(fullSince) < 8 || (!sawBackpressure && Date().timeIntervalSince(fullSince) < 120) {
            XCTAssertEqual(try server.get("/healthz").status, 200)
            let metrics = try server.get("/metrics")
            XCTAssertEqual(metrics.status, 200)
            maxBufferedBytes = max(maxBufferedBytes, Self.value(metrics.body, "tetcore_buffered_bytes") ?? 0)
            sawBackpressure = sawBackpressure || Self.value(metrics.body, "tetcore_backpressure_active") == 1
            usleep(250_000)
        }
        let cpuShare = (try cpuSeconds(server) - cpuBefore) / Date().timeIntervalSince(fullSince)
        let metrics = try server.get("/metrics").body
        let postgresStayedUp = cluster.isRunning
        XCTAssertTrue(server.process.isRunning)
        XCTAssertGreaterThan(Self.value(metrics, "tetcore_buffered_rows") ?? 0, 0, "rows held while the disk is full")
        XCTAssertGreaterThan(Self.value(metrics, "tetcore_batch_retries_total") ?? 0, 0, "failed batches counted")
        XCTAssertTrue(sawBackpressure, "node reading paused at MAX_BUFFERED_BYTES")
        // Reading stops once over the limit; what one read brings on top is all it can overshoot.
        XCTAssertLessThan(maxBufferedBytes, 2 * DiskFullTests.maxBufferedBytes, "buffer bounded")
        XCTAssertLessThan(cpuShare, 0.25, "no retry loop spinning while the disk is full")

        // Space returns; a PostgreSQL that shut down is started again, as an operator would.
        try FileManager.default.removeItem(atPath: ballastPath)
        try waitUntilAnswering(cluster)
        usleep(500_000)
        // The node's last send waits for the server to read again, so for
        // its buffer to reach the database.
        guard let sent = node.stopStreaming(within: 180) else {
            throw TestFailure("the node's send was still blocked 180 s after space returned: the server never read "
                + "again; its log ends:\n\(server.log.suffix(3000))")
        }
        // A batch retry may be 30 s away by now (its backoff), a pool
        // reconnect 10 s, and PostgreSQL may be recovering: a generous wait.
        eventually(180, "all \(sent) rows after space returned") { try cluster.count("SELECT count(*) FROM tetcore_logs") == sent }
        XCTAssertTrue(server.process.isRunning, "the server ran to the end; its log ends:\n\(server.log.suffix(3000))")
        XCTAssertEqual(try cluster.count("SELECT count(*) FROM tetcore_logs"), sent)
        XCTAssertEqual(try cluster.count("SELECT count(DISTINCT (logs->>'n')::int) FROM tetcore_logs"), sent, "no duplicates")
        XCTAssertEqual(try cluster.count("SELECT max((logs->>'n')::int) FROM tetcore_logs"), sent - 1)
        XCTAssertGreaterThan(sent, 100 + DiskFullTests.maxBufferedBytes / 1024, "more was sent than the buffer holds")
        print("disk full (\(forceNewWALSegment ? "WAL" : "data files")): \(sent) rows sent, "
              + "\(try cluster.count("SELECT count(DISTINCT (logs->>'n')::int) FROM tetcore_logs")) distinct stored, "
              + "PostgreSQL stayed up: \(postgresStayedUp), peak buffered bytes \(maxBufferedBytes), server CPU \(cpuShare)")
        return Outcome(postgresStayedUp: postgresStayedUp, serverLog: server.log)
    }

    /// Returns once PostgreSQL answers a query, starting it whenever its
    /// postmaster is gone. After a PANIC the postmaster may still be in
    /// crash recovery, which can yet fail and shut it down: one look would
    /// leave it down for good.
    private func waitUntilAnswering(_ cluster: DisposableCluster) throws {
        let deadline = Date().addingTimeInterval(120)
        var lastError = "none"
        while Date() < deadline {
            do {
                if !cluster.isRunning { try cluster.start() }
                try TestDatabase.exec(cluster.url, "SELECT 1")
                return
            } catch {
                lastError = "\(error)"
            }
            usleep(250_000)
        }
        throw TestFailure("PostgreSQL did not answer within 120 s after space returned; last error: \(lastError)")
    }

    /// Writes zeros until only `headroomBytes` are left on the tmpfs.
    private func fillDisk() throws {
        let disk = try XCTUnwrap(disk)
        guard FileManager.default.createFile(atPath: ballastPath, contents: nil),
              let file = FileHandle(forWritingAtPath: ballastPath) else { throw TestFailure("cannot create \(ballastPath)") }
        defer { try? file.close() }
        let chunk = Data(count: 1 << 20)
        while true {
            let room = try disk.freeBytes() - DiskFullTests.headroomBytes
            guard room > 0 else { break }
            try file.write(contentsOf: chunk.prefix(room))
        }
    }

    /// User plus system CPU time of the server process so far.
    private func cpuSeconds(_ server: ServerProcess) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(server.process.processIdentifier)/stat", encoding: .utf8)
        guard let close = stat.lastIndex(of: ")") else { throw TestFailure("unreadable /proc stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // utime and stime are fields 14 and 15; fields[0] here is field 3.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw TestFailure("unreadable /proc stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private static func value(_ metrics: String, _ name: String) -> Int? {
        guard let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }) else { return nil }
        return Double(line.split(separator: " ")[1]).map { Int($0) }
    }

}

/// A node that sends numbered 1 KB messages, at first on demand, then from
/// a thread of its own at `messagesPerSecond` (200, about 200 KB/s, is busy
/// but under the default INGEST_MAX_BYTES_PER_S). A send blocks while the
/// server applies backpressure.
final class StreamingNode {
    private let client: RawClient
    private let intervalMicroseconds: useconds_t
    private let lock = NSLock()
    private var sent = 0
    private var streaming = false
    private let finished = DispatchSemaphore(value: 0)
    private static let padding = String(repeating: "d", count: 1000)

    init(port: Int, messagesPerSecond: Int = 200) throws {
        intervalMicroseconds = useconds_t(1_000_000 / messagesPerSecond)
        client = try RawClient(port: port)
        XCTAssertEqual(try client.upgrade(), 101)
    }

    func send(_ count: Int) throws {
        for _ in 0..<count { try sendOne() }
    }

    private func sendOne() throws {
        let number = lock.withLock { sent }
        try client.sendText(#"{"msg":"seq","ts":"2026-11-29T09:00:00Z","n":\#(number),"p":"\#(StreamingNode.padding)"}"#)
        lock.withLock { sent += 1 } // counted once the whole frame is in the socket
    }

    func startStreaming() {
        lock.withLock { streaming = true }
        Thread.detachNewThread { [self] in
            // Paced by the clock, not by a pause after each send, so that a
            // slower build (a sanitizer's) still sends at the stated rate.
            var due = DispatchTime.now().uptimeNanoseconds
            while lock.withLock({ streaming }), (try? sendOne()) != nil {
                due += UInt64(intervalMicroseconds) * 1000
                let now = DispatchTime.now().uptimeNanoseconds
                if due > now { usleep(useconds_t((due - now) / 1000)) }
            }
            finished.signal()
        }
    }

    /// Messages in the socket so far.
    var sentSoFar: Int { lock.withLock { sent } }

    /// Stops the thread; returns how many messages went out in all, or nil
    /// if its send in progress was still blocked after `seconds`.
    func stopStreaming(within seconds: Double) -> Int? {
        lock.withLock { streaming = false }
        guard finished.wait(timeout: .now() + seconds) == .success else { return nil }
        return lock.withLock { sent }
    }
}

/// A tmpfs of a fixed size mounted for one test, owned by `owner`.
private final class TmpfsMount {
    let path: String
    private var mounted = false

    init(at path: String, bytes: Int, owner: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard let user = getpwnam(owner) else { throw TestFailure("no user \(owner)") }
        let options = "size=\(bytes),mode=0700,uid=\(user.pointee.pw_uid),gid=\(user.pointee.pw_gid)"
        let (status, output) = TmpfsMount.run("/bin/mount", ["-t", "tmpfs", "-o", options, "tetcore-disk-full", path])
        guard status == 0 else {
            if ProcessInfo.processInfo.environment["SKIP_DISK_FULL_TESTS"] == "1" {
                throw XCTSkip("cannot mount a tmpfs (\(output)); skipped because SKIP_DISK_FULL_TESTS=1")
            }
            throw TestFailure("cannot mount a tmpfs for the full-disk test: \(output). These tests need root or "
                + "CAP_SYS_ADMIN (scripts/test and CI run as root); set SKIP_DISK_FULL_TESTS=1 to skip them")
        }
        mounted = true
    }

    func freeBytes() throws -> Int {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { throw TestFailure("statvfs \(path): errno \(errno)") }
        return Int(stats.f_bavail) * Int(stats.f_frsize)
    }

    /// Lazily (MNT_DETACH), so a process still holding a file there cannot
    /// keep the mount alive.
    func unmount() {
        guard mounted else { return }
        mounted = false
        _ = TmpfsMount.run("/bin/umount", ["-l", path])
    }

    private static func run(_ executable: String, _ arguments: [String]) -> (Int32, String) {
        guard let outcome = try? ChildProcess.run(executable, arguments) else { return (-1, "cannot run \(executable)") }
        return (outcome.status, outcome.output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
