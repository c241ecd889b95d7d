import Foundation
@testable import TestSupport
import XCTest

/// A pg_auto_failover formation on loopback, owned by one test: a monitor
/// and two data nodes with synchronous replication (pg_auto_failover's
/// default for two nodes: `synchronous_standby_names = 'ANY 1 (…)'`).
///
/// PostgreSQL and pg_autoctl refuse to run as root, so as root every
/// program runs as the postgres user through runuser (as DisposableCluster
/// does), in a directory that user owns. pg_autoctl keeps its state under
/// XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_RUNTIME_DIR, all pointed inside
/// that directory so that nothing outlives `destroy()`.
///
/// Each `pg_autoctl run` is started through setsid: the keeper, its
/// PostgreSQL and that PostgreSQL's backends share one process group, which
/// is how the test finds (and stops) everything of one node.
final class AutoFailoverFormation {
    struct Node {
        let name: String
        let port: Int
        let dataDirectory: String
        let keeper: Process
    }

    let root: String
    let monitorPort = ServerProcess.freePort()
    private(set) var nodes: [Node] = []
    private var monitor: Process?
    /// `pg_autoctl perform failover` commands, left running (see
    /// `performFailover`) and stopped with everything else.
    private var failoverCommands: [Process] = []
    /// Nodes `loseNode` stopped: ended with SIGKILL, as they were lost.
    private var lostNodes: Set<String> = []
    private let binDirectory: String

    /// The monitor's failure detection, tightened from its defaults (5 s
    /// checks, 20 s before a node counts as unhealthy, 30 s for a demotion)
    /// so that a lost primary is replaced in seconds.
    private static let monitorSettings = """

        # AutoFailoverFormation: a lost primary is found in seconds. The wait
        # for an old primary to demote itself stays at its default (30 s):
        # at 5 s, a slow old primary on a loaded machine was still taking
        # writes, no longer synchronous, when the standby was promoted, and
        # the writes it acknowledged were lost with it.
        listen_addresses = '127.0.0.1'
        pgautofailover.health_check_period = 1000
        pgautofailover.health_check_timeout = 1000
        pgautofailover.health_check_max_retries = 1
        pgautofailover.health_check_retry_delay = 500
        pgautofailover.node_considered_unhealthy_timeout = 3000

        """

    /// Starts the monitor, then node1 (which becomes primary), then node2
    /// (its synchronous standby); returns when both report their state.
    init() throws {
        binDirectory = try DisposableCluster.findBinDirectory()
        var template = Array((NSTemporaryDirectory() + "tetcore-paf-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed: errno \(errno)") }
        root = String(cString: made)
        do {
            try start()
        } catch {
            destroy()
            throw error
        }
    }

    private func start() throws {
        // pg_autoctl uses XDG_RUNTIME_DIR (its pid files) only if it exists,
        // and /tmp/pg_autoctl otherwise.
        try FileManager.default.createDirectory(atPath: root + "/run", withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        if getuid() == 0 {
            chmod(root, 0o755)
            _ = try ChildProcess.run("/bin/chown", ["postgres:postgres", root, root + "/run"])
        }
        let monitorData = root + "/monitor"
        try autoctl(["create", "monitor", "--pgdata", monitorData, "--pgport", "\(monitorPort)",
                     "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl"])
        try append(AutoFailoverFormation.monitorSettings, to: monitorData + "/postgresql.conf")
        monitor = try background(["run", "--pgdata", monitorData], log: "monitor.log")
        eventually(60, "the monitor accepts connections") { (try? self.states()) != nil }

        for (index, name) in ["node1", "node2"].enumerated() {
            let port = ServerProcess.freePort(), data = root + "/" + name
            let keeper = try background([
                "create", "postgres", "--pgdata", data, "--pgport", "\(port)", "--listen", "127.0.0.1",
                "--hostname", "127.0.0.1", "--name", name, "--auth", "trust", "--no-ssl",
                "--monitor", monitorURL, "--run",
            ], log: name + ".log")
            nodes.append(Node(name: name, port: port, dataDirectory: data, keeper: keeper))
            // node1 first, alone, so that it is the one that becomes primary.
            let wanted = index == 0 ? ["node1": "single"] : ["node1": "primary", "node2": "secondary"]
            try waitForStates(wanted, seconds: 90)
        }
    }

    var monitorURL: String { "postgres://autoctl_node@127.0.0.1:\(monitorPort)/pg_auto_failover?sslmode=disable" }

    /// Both nodes, libpq's multi-host form: `target_session_attrs` picks
    /// which of them a connection may stay on.
    func url(database: String = "postgres", targetSessionAttrs: String = "read-write") -> String {
        let hosts = nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
        return "postgres://postgres@\(hosts)/\(database)?target_session_attrs=\(targetSessionAttrs)"
    }

    /// One node alone.
    func url(of node: Node, database: String = "postgres") -> String {
        "postgres://postgres@127.0.0.1:\(node.port)/\(database)"
    }

    func node(named name: String) throws -> Node {
        guard let node = nodes.first(where: { $0.name == name }) else { throw TestFailure("no node \(name)") }
        return node
    }

    /// Each node's reported and assigned state, from the monitor.
    func states() throws -> [String: (reported: String, assigned: String)] {
        let rows = try TestDatabase.exec(monitorURL, "SELECT nodename, reportedstate, goalstate FROM pgautofailover.node")
        var states: [String: (reported: String, assigned: String)] = [:]
        for row in rows where row.count == 3 {
            states[row[0] ?? ""] = (row[1] ?? "", row[2] ?? "")
        }
        return states
    }

    /// Polls the monitor until every named node reports, and is assigned,
    /// the state given for it.
    func waitForStates(_ wanted: [String: String], seconds: Double) throws {
        var last: [String: (reported: String, assigned: String)] = [:]
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            last = (try? states()) ?? [:]
            if wanted.allSatisfy({ last[$0.key]?.reported == $0.value && last[$0.key]?.assigned == $0.value }) { return }
            usleep(200_000)
        }
        throw TestFailure("pg_auto_failover: wanted \(wanted), the monitor says \(last); logs in \(root)")
    }

    /// `pg_autoctl perform failover`: the monitor has the primary (node1)
    /// demoted and the standby promoted. Returns once the monitor has
    /// taken the order; callers poll `states()` for what they need.
    ///
    /// The command runs in the background and is not waited for: after
    /// the order it waits for some node to report "primary", with no limit
    /// under `--wait 0`. A standby promoted while the old primary cannot
    /// stop stays "wait_primary" (writable, which is all the tests need),
    /// and the old primary's fast shutdown can wait forever on a session
    /// whose exit commits (dropping the generator's temporary table) and
    /// waits for the synchronous standby that was just promoted away.
    func performFailover() throws {
        let command = try background(["perform", "failover", "--pgdata", root + "/monitor", "--formation", "default",
                                      "--group", "0", "--wait", "0"], log: "perform-failover.log")
        failoverCommands.append(command)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let node1 = try? states()["node1"], node1.assigned != "primary" { return }
            if !command.isRunning && command.terminationStatus != 0 { break }
            usleep(100_000)
        }
        throw TestFailure("pg_autoctl perform failover: no order taken by the monitor; its output is in \(root)/perform-failover.log")
    }

    /// The node is lost as a machine is lost: its keeper stops (SIGSTOP, so
    /// that nothing starts its PostgreSQL again or talks to the monitor) and
    /// its postmaster is killed with SIGKILL, which ends every backend.
    func loseNode(_ node: Node) throws {
        let group = processGroup(node.keeper)
        let postmaster = try postmasterPID(node)
        for pid in processes(inGroup: group) where pid != postmaster && !isPostgres(pid) {
            kill(pid, SIGSTOP)
        }
        kill(postmaster, SIGKILL)
        lostNodes.insert(node.name)
    }

    /// The pid of a standby's WAL receiver.
    func walReceiverPID(of node: Node) throws -> pid_t {
        let text = try TestDatabase.scalar(url(of: node), "SELECT pid FROM pg_stat_wal_receiver")
        guard let pid = text.flatMap({ pid_t($0) }) else { throw TestFailure("\(node.name) has no WAL receiver") }
        return pid
    }

    /// The postmaster's pid, the first line of postmaster.pid.
    func postmasterPID(_ node: Node) throws -> pid_t {
        let text = try String(contentsOfFile: node.dataDirectory + "/postmaster.pid", encoding: .utf8)
        guard let pid = pid_t(text.split(separator: "\n").first ?? "") else { throw TestFailure("no pid in postmaster.pid") }
        return pid
    }

    /// Stops everything: a lost node's group is killed (continued, its
    /// keeper would first start its PostgreSQL again), every other group
    /// asked to stop (SIGTERM: pg_autoctl stops its PostgreSQL and frees its
    /// semaphore); whatever is left after 30 s is killed, and what killed
    /// processes leave in System V IPC is removed. Then the files go.
    func destroy() {
        for node in nodes where lostNodes.contains(node.name) { kill(-processGroup(node.keeper), SIGKILL) }
        let groups = (nodes.map(\.keeper) + failoverCommands + [monitor].compactMap { $0 }).map(processGroup)
        for group in groups { kill(-group, SIGTERM) }
        let deadline = Date().addingTimeInterval(30)
        while groups.contains(where: { !processes(inGroup: $0).isEmpty }), Date() < deadline { usleep(100_000) }
        for group in groups where !processes(inGroup: group).isEmpty { kill(-group, SIGKILL) }
        for process in nodes.map(\.keeper) + failoverCommands + [monitor].compactMap({ $0 }) { process.waitUntilExit() }
        removeLeftoverIPC()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A process that stops cleanly removes its pid file and, with it, its
    /// System V objects; a killed one leaves both. postmaster.pid's line 7
    /// is "key shmid" of PostgreSQL's segment; pg_autoctl.pid's line 5 the
    /// id of its log semaphore. Called once every process has exited, so no
    /// id can have been reused.
    private func removeLeftoverIPC() {
        for node in nodes {
            let lines = (try? String(contentsOfFile: node.dataDirectory + "/postmaster.pid", encoding: .utf8))?
                .split(separator: "\n", omittingEmptySubsequences: false) ?? []
            if lines.count > 6, let id = lines[6].split(separator: " ").last.flatMap({ Int32($0) }) {
                _ = try? ChildProcess.run("/usr/bin/ipcrm", ["-m", "\(id)"])
            }
        }
        // pg_autoctl keeps its pid file under XDG_RUNTIME_DIR.
        let run = root + "/run"
        for path in FileManager.default.enumerator(atPath: run)?.compactMap({ $0 as? String }) ?? []
        where path.hasSuffix("pg_autoctl.pid") {
            let lines = (try? String(contentsOfFile: run + "/" + path, encoding: .utf8))?
                .split(separator: "\n", omittingEmptySubsequences: false) ?? []
            if lines.count > 4, let id = Int32(lines[4].trimmingCharacters(in: .whitespaces)) {
                _ = try? ChildProcess.run("/usr/bin/ipcrm", ["-s", "\(id)"])
            }
        }
    }

    // MARK: Running pg_autoctl

    /// pg_autoctl's state under `root`, and PostgreSQL's programs first on PATH.
    private var environment: [String] {
        ["XDG_CONFIG_HOME=\(root)/config", "XDG_DATA_HOME=\(root)/share", "XDG_RUNTIME_DIR=\(root)/run",
         "PG_CONFIG=\(binDirectory)/pg_config", "PATH=\(binDirectory):/usr/bin:/bin", "PGCONNECT_TIMEOUT=5"]
    }

    /// The command line that runs pg_autoctl with `arguments`, as postgres
    /// when we are root.
    private func commandLine(_ arguments: [String]) -> [String] {
        let command = ["/usr/bin/env"] + environment + ["pg_autoctl"] + arguments
        return getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + command : command
    }

    /// Runs pg_autoctl to its end; throws with its output when it fails.
    private func autoctl(_ arguments: [String]) throws {
        let line = commandLine(arguments)
        let outcome = try ChildProcess.run(line[0], Array(line.dropFirst()), directory: URL(fileURLWithPath: "/"))
        guard outcome.status == 0 else {
            throw TestFailure("pg_autoctl \(arguments.joined(separator: " ")): status \(outcome.status)\n\(outcome.output.suffix(3000))")
        }
    }

    /// Starts pg_autoctl in a session (so a process group) of its own, its
    /// output in `log` under `root`.
    private func background(_ arguments: [String], log: String) throws -> Process {
        let path = root + "/" + log
        FileManager.default.createFile(atPath: path, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        // --wait: when setsid has to fork (it was a group leader already)
        // it stays as the parent, so the Process still tells when it ends.
        process.arguments = ["--wait"] + commandLine(arguments)
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return process
    }

    private func append(_ text: String, to path: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else { throw TestFailure("cannot open \(path)") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
    }

    // MARK: Processes

    /// The process group setsid made: that of its child when it had to fork
    /// (Foundation starts it as a group leader already), else its own.
    private func processGroup(_ process: Process) -> pid_t {
        let pid = process.processIdentifier
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            if let child = pid_t(entry), let stat = AutoFailoverFormation.stat(child), stat.parent == pid, stat.group == child {
                return child
            }
        }
        return AutoFailoverFormation.stat(pid)?.group ?? pid
    }

    /// The state, parent and process group of `pid`, from /proc/PID/stat.
    private static func stat(_ pid: pid_t) -> (state: Substring, parent: pid_t, group: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // After the command: state, ppid, pgrp, …
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
        return (fields[0], parent, group)
    }

    private func processes(inGroup group: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            // A zombie has ended; only its parent's wait is missing.
            guard let pid = pid_t(entry), let stat = AutoFailoverFormation.stat(pid), stat.group == group,
                  stat.state != "Z" else { return nil }
            return pid
        }
    }

    /// A PostgreSQL server process (postmaster or backend), by its program.
    private func isPostgres(_ pid: pid_t) -> Bool {
        let command = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
        return command.hasPrefix("postgres")
    }
}
