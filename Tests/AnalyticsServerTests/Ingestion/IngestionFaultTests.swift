import Foundation
@testable import TestSupport
import XCTest

/// The database goes away under a live ingestion stream and comes back.
final class IngestionFaultTests: XCTestCase {
    private var cluster: DisposableCluster?
    private var server: ServerProcess?

    override func setUpWithError() throws {
        cluster = try DisposableCluster()
    }

    override func tearDown() {
        if let server, server.process.isRunning { _ = server.terminate(signal: SIGKILL) }
        server = nil
        cluster?.destroy()
        cluster = nil
    }

    /// One node on a server of the test's cluster, sending numbered messages.
    private final class NumberedNode {
        let client: RawClient
        private(set) var sent = 0

        init(port: Int) throws {
            client = try RawClient(port: port)
            XCTAssertEqual(try client.upgrade(), 101)
        }

        func send(_ count: Int = 1) throws {
            for _ in 0..<count {
                try client.sendText(#"{"msg":"seq","ts":"2026-11-29T09:00:00Z","n":\#(sent)}"#)
                sent += 1
            }
        }
    }

    private func startServerWithNode(_ cluster: DisposableCluster) throws -> (ServerProcess, NumberedNode) {
        let server = try ServerProcess(environment: ["DATABASE_URL": cluster.url, "DB_SAVE_LATENCY_MS": "20"])
        self.server = server
        return (server, try NumberedNode(port: server.port))
    }

    func testEveryAcceptedMessageStoredOnceAcrossADatabaseOutage() throws {
        let cluster = try XCTUnwrap(cluster)
        let (server, node) = try startServerWithNode(cluster)
        func send() throws { try node.send() }
        var sent: Int { node.sent }

        for _ in 0..<200 { try send() }
        eventually(60, "the first 200 rows before the outage") { try cluster.count("SELECT count(*) FROM tetcore_logs") == 200 }

        try cluster.stopImmediately()
        // About 3 s of traffic with nothing to write it to: the open socket
        // keeps being read and the server buffers what it accepts.
        for _ in 0..<30 {
            for _ in 0..<10 { try send() }
            usleep(100_000)
        }
        eventually(60, "no write connection while PostgreSQL is down") { try server.get("/readyz").status == 503 }
        try cluster.start()

        eventually(60, "all \(sent) rows after the restart") { try cluster.count("SELECT count(*) FROM tetcore_logs") == sent }
        XCTAssertEqual(try cluster.count("SELECT count(*) FROM tetcore_logs"), sent)
        XCTAssertEqual(try cluster.count("SELECT count(DISTINCT (logs->>'n')::int) FROM tetcore_logs"), sent, "no duplicates")
        XCTAssertEqual(try cluster.count("SELECT max((logs->>'n')::int) FROM tetcore_logs"), sent - 1)
    }

    func testEveryMessageStoredOnceAcrossADatabasePausedForTenSeconds() throws {
        let cluster = try XCTUnwrap(cluster)
        let (server, node) = try startServerWithNode(cluster)
        func send(_ count: Int) throws { try node.send(count) }
        var sent: Int { node.sent }
        try send(100)
        eventually(60, "the first rows") { try cluster.count("SELECT count(*) FROM tetcore_logs") == 100 }

        // SIGSTOP every process of the cluster: connections stay open, nothing
        // answers (what a frozen VM or a stuck disk looks like).
        try cluster.signalEveryProcess(SIGSTOP)
        let pausedAt = Date()
        while Date().timeIntervalSince(pausedAt) < 10 {
            try send(20)
            usleep(200_000)
        }
        // The loop never waits for the database: health and metrics answer.
        XCTAssertEqual(try server.get("/healthz").status, 200)
        XCTAssertEqual(try server.get("/metrics").status, 200)
        try cluster.signalEveryProcess(SIGCONT)

        eventually(60, "all \(sent) rows after the pause") { try cluster.count("SELECT count(*) FROM tetcore_logs") == sent }
        XCTAssertEqual(try cluster.count("SELECT count(DISTINCT (logs->>'n')::int) FROM tetcore_logs"), sent, "no duplicates")
        XCTAssertTrue(server.process.isRunning)
    }
}

/// A throwaway PostgreSQL cluster owned by one test, so the test may stop
/// and start it (the shared TEST_DATABASE_URL server must stay up).
///
/// Binaries come from PG_BIN_DIR or the newest /usr/lib/postgresql/N/bin.
/// PostgreSQL refuses to run as root, so as root every program runs as the
/// postgres user through runuser, inside a directory that user owns.
final class DisposableCluster {
    let port = ServerProcess.freePort()
    let url: String
    private let binDirectory: String
    let root: String
    let dataDirectory: String

    /// `placeData`, given the cluster's own directory, returns where the
    /// data directory goes (e.g. on a file system it has just mounted);
    /// by default, `root`/data.
    init(placeData: ((_ root: String) throws -> String)? = nil) throws {
        binDirectory = try DisposableCluster.findBinDirectory()
        var template = Array((NSTemporaryDirectory() + "tetcore-fault-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed: errno \(errno)") }
        root = String(cString: made)
        url = "postgres://postgres@127.0.0.1:\(port)/postgres"
        if getuid() == 0 {
            // mkdtemp makes it 0700; runuser'd programs must enter it.
            chmod(root, 0o755)
            try DisposableCluster.run("/bin/chown", ["postgres:postgres", root])
        }
        dataDirectory = try placeData?(root) ?? root + "/data"
        try program("initdb", ["-D", dataDirectory, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
        try start()
    }

    func start() throws {
        // fsync is off: durability across an OS crash is not under test,
        // and an immediate stop still leaves a WAL that recovery replays.
        let options = "-p \(port) -c listen_addresses=127.0.0.1 -c unix_socket_directories=\(root) -c fsync=off"
        try program("pg_ctl", ["-D", dataDirectory, "-o", options, "-l", root + "/server.log", "-w", "-t", "30", "start"])
    }

    /// Stops PostgreSQL without a shutdown checkpoint, like a crash: every
    /// client connection is cut at once.
    /// Sends `signal` to the postmaster and every process it started.
    func signalEveryProcess(_ signal: Int32) throws {
        let pidFile = try String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8)
        guard let postmaster = pid_t(pidFile.split(separator: "\n").first ?? "") else {
            throw TestFailure("no postmaster pid in postmaster.pid")
        }
        var pids = [postmaster]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster { pids.append(pid) }
        }
        for pid in pids { kill(pid, signal) }
    }

    /// True while the postmaster runs (a PANIC that recovery cannot get
    /// past shuts it down).
    var isRunning: Bool {
        guard let pidFile = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
              let postmaster = pid_t(pidFile.split(separator: "\n").first ?? "") else { return false }
        return kill(postmaster, 0) == 0
    }

    /// A query's one integer (a count), or -1 when it gives none.
    func count(_ sql: String) throws -> Int {
        Int(try TestDatabase.scalar(url, sql) ?? "") ?? -1
    }

    func stopImmediately() throws {
        try program("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
    }

    func destroy() {
        _ = try? program("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: root)
    }

    func program(_ name: String, _ arguments: [String]) throws {
        let path = binDirectory + "/" + name
        if getuid() == 0 {
            try DisposableCluster.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        } else {
            try DisposableCluster.run(path, arguments)
        }
    }

    /// Runs a program to completion, its output in a file. posix_spawn and
    /// waitpid rather than Foundation's Process: the postmaster pg_ctl
    /// leaves behind inherits the child's descriptors, and Process then
    /// never reports pg_ctl's exit.
    private static func run(_ executable: String, _ arguments: [String]) throws {
        let outputPath = NSTemporaryDirectory() + "tetcore-fault-output-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw TestFailure("cannot start \(executable): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // A normal exit with status 0: WIFEXITED and WEXITSTATUS by hand.
        guard status & 0x7F == 0, (status >> 8) & 0xFF == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) failed (wait status \(status)): \(text)")
        }
    }

    static func findBinDirectory() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["PG_BIN_DIR"], !configured.isEmpty {
            return configured
        }
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init)
        for version in versions.sorted(by: >) where FileManager.default.isExecutableFile(atPath: "\(base)/\(version)/bin/initdb") {
            return "\(base)/\(version)/bin"
        }
        throw TestFailure("no PostgreSQL server binaries: set PG_BIN_DIR or install postgresql")
    }
}

/// DB_BATCH_SIZE and DB_SAVE_LATENCY_MS, observed from outside: rows become
/// visible a full batch at a time, or when the oldest row has waited long
/// enough.
final class IngestionBatchingTests: ServerTestCase {
    /// Each test starts its own server with the settings it is about.
    override func setUpWithError() throws {
        database = try TestDatabase()
    }

    private func node(_ server: ServerProcess) throws -> RawClient {
        let client = try RawClient(port: server.port)
        XCTAssertEqual(try client.upgrade(), 101)
        return client
    }

    func testFullBatchesAreWrittenAndTheRemainderWaitsForShutdown() throws {
        server = try startServer(["DB_BATCH_SIZE": "10", "DB_SAVE_LATENCY_MS": "60000"])
        let client = try node(server)
        for index in 0..<25 { try client.sendText(#"{"msg":"b","ts":"2026-11-29T09:00:00Z","n":\#(index)}"#) }

        eventually(60, "two full batches") { self.count("SELECT count(*) FROM tetcore_logs") == 20 }
        // Every message in and the remainder held: what the table has now
        // is what the batch rules wrote.
        eventually(60, "the remainder held") {
            let scrape = try Scrape.of(self.server)
            return scrape["tetcore_message_count"] == 25 && scrape["tetcore_buffered_rows"] == 5
        }
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 20, "the 5-row remainder waits for its latency")
        XCTAssertEqual(count("SELECT max((logs->>'n')::int) FROM tetcore_logs"), 19, "batches keep arrival order")

        let shutdown = try server.shutDown(answering: client)
        XCTAssertEqual(shutdown.closeCode, 1001)
        XCTAssertEqual(shutdown.exitStatus, 0)
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 25)
        XCTAssertEqual(count("SELECT count(DISTINCT logs->>'n') FROM tetcore_logs"), 25)
    }

    func testABatchIsWrittenOnceItHoldsDBBatchBytes() throws {
        server = try startServer(["DB_BATCH_SIZE": "100000", "DB_BATCH_BYTES": "65536", "DB_SAVE_LATENCY_MS": "60000"])
        let client = try node(server)
        let padding = String(repeating: "x", count: 20_000)
        for index in 0..<10 { try client.sendText(#"{"msg":"big","ts":"2026-11-29T09:00:00Z","n":\#(index),"p":"\#(padding)"}"#) }

        // 20 KB rows: the fourth passes 64 KiB, so two batches of four.
        eventually(60, "two batches of four rows") { self.count("SELECT count(*) FROM tetcore_logs") == 8 }
        eventually(60, "the remainder held") {
            let scrape = try Scrape.of(self.server)
            return scrape["tetcore_message_count"] == 10 && scrape["tetcore_buffered_rows"] == 2
        }
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 8, "the two-row remainder waits for its latency")
        _ = try server.shutDown(answering: client)
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 10)
    }

    func testAPartialBatchIsWrittenOnceItsOldestRowHasWaited() throws {
        server = try startServer(["DB_BATCH_SIZE": "100000", "DB_SAVE_LATENCY_MS": "300"])
        let client = try node(server)
        let firstSend = Date()
        // One write: the three arrive together however late this thread runs.
        try client.send((0..<3).flatMap { RawClient.frame(opcode: 1, Array(#"{"msg":"l","ts":"2026-11-29T09:00:00Z","n":\#($0)}"#.utf8)) })

        var visibleAfter: TimeInterval = 0
        eventually(60, "three rows") {
            guard self.count("SELECT count(*) FROM tetcore_logs") == 3 else { return false }
            visibleAfter = Date().timeIntervalSince(firstSend)
            return true
        }
        // The latency timer starts when the server takes the first row,
        // after it left here; a little slack covers the loop's cached clock.
        XCTAssertGreaterThanOrEqual(visibleAfter, 0.25, "written before the latency elapsed")
        let metrics = try server.get("/metrics").body
        XCTAssertTrue(metrics.contains("\ntetcore_batches_written_total 1\n"), metrics)
    }
}
