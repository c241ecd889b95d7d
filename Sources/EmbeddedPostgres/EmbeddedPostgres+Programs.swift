// EmbeddedPostgres: the server programs (where they are, who
// runs them, what each step runs).
import Foundation
import Glibc
import Logging

extension EmbeddedPostgres {
    /// Who runs the server programs: this process's user or, as root, an
    /// unprivileged system user (through runuser).
    enum ClusterOwner {
        case currentUser
        case systemUser(name: String, uid: uid_t, gid: gid_t)

        /// Made when running as root on a machine without a `postgres` user.
        static let fallbackUserName = "tetcore-pg"

        static func forThisProcess(logger: Logger) throws -> ClusterOwner {
            guard geteuid() == 0 else { return .currentUser }
            if let owner = existing(EmbeddedPostgres.superuser) ?? existing(fallbackUserName) { return owner }
            logger.info("creating a system user to run the embedded PostgreSQL (it refuses to run as root)",
                        metadata: ["user": "\(fallbackUserName)"])
            let result = try ChildProcess.run(try ChildProcess.systemTool("useradd"), [
                "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                "--shell", "/usr/sbin/nologin", fallbackUserName,
            ])
            guard result.status == 0, let owner = existing(fallbackUserName) else {
                throw EmbeddedPostgresError.cannotCreateUser(fallbackUserName, output: result.tail)
            }
            return owner
        }

        private static func existing(_ name: String) -> ClusterOwner? {
            guard let entry = getpwnam(name) else { return nil }
            return .systemUser(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
        }

        var name: String {
            switch self {
            case .currentUser:
                return getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
            case .systemUser(let name, _, _): return name
            }
        }

        var uid: uid_t {
            switch self {
            case .currentUser: return geteuid()
            case .systemUser(_, let uid, _): return uid
            }
        }

        /// Runs `executable` as this owner.
        func run(_ executable: String, _ arguments: [String]) throws -> ChildProcess {
            switch self {
            case .currentUser:
                return try ChildProcess.run(executable, arguments)
            case .systemUser(let name, _, _):
                let runuser = try ChildProcess.systemTool("runuser")
                return try ChildProcess.run(runuser, ["-u", name, "--", executable] + arguments)
            }
        }

        /// Whether this owner can pass through `directory` and all its parents.
        func canReach(_ directory: String) -> Bool {
            guard let test = try? ChildProcess.systemTool("test") else { return false }
            return (try? run(test, ["-x", directory]).status) == 0
        }

        /// Gives `path` (and, if `recursive`, everything in it) to this owner;
        /// nothing to do for the current user.
        func takeOwnership(of path: String, recursive: Bool) throws {
            guard case .systemUser(_, let uid, let gid) = self else { return }
            var paths = [path]
            if recursive, let contents = FileManager.default.enumerator(atPath: path) {
                paths += contents.compactMap { ($0 as? String).map { path + "/" + $0 } }
            }
            for item in paths where lchown(item, uid, gid) != 0 {
                let reason = String(cString: strerror(errno))
                throw EmbeddedPostgresError.filesystem(path: item, reason: "cannot give it to \(name): \(reason)")
            }
        }
    }

    /// The server programs of one cluster, run as its owner.
    struct ServerPrograms {
        let binDirectory: String
        let owner: ClusterOwner
        let files: ClusterFiles

        /// Local (socket) connections are trusted: only the owner (and root)
        /// can open the 0700 socket directory. TCP is refused in pg_hba.conf
        /// as well as not listened on.
        func initdb() throws {
            try check("initdb", [
                "-D", files.dataDirectory, "-U", EmbeddedPostgres.superuser, "--auth-local=trust", "--auth-host=reject",
                "--encoding=UTF8", "--locale=C",
            ])
        }

        /// pg_ctl status: 0 running, 3 not running; anything else is an error.
        func isRunning() throws -> Bool {
            let result = try owner.run(binDirectory + "/pg_ctl", ["status", "-D", files.dataDirectory])
            switch result.status {
            case 0: return true
            case 3: return false
            default:
                throw EmbeddedPostgresError.commandFailed(command: "pg_ctl status", status: result.status,
                                                          output: result.tail)
            }
        }

        /// Starts the server and waits (60 s at most) until it accepts
        /// connections; a failure carries the tail of the server log.
        func start() throws {
            let result = try owner.run(binDirectory + "/pg_ctl", [
                "start", "-w", "-t", "60", "-D", files.dataDirectory, "-l", files.logFile,
            ])
            guard result.status == 0 else {
                throw EmbeddedPostgresError.commandFailed(
                    command: "pg_ctl start", status: result.status,
                    output: result.tail + "\n--- end of \(files.logFile) ---\n" + logTail())
            }
        }

        /// Whether the last start failed because a crashed server's processes
        /// still held the lock file or shared memory (they go within seconds).
        func startFailureMayPass() -> Bool {
            let log = logTail()
            return log.contains("lock file \"postmaster.pid\" already exists")
                || log.contains("pre-existing shared memory block")
        }

        func stop() throws {
            try check("pg_ctl", ["stop", "-m", "fast", "-w", "-t", "60", "-D", files.dataDirectory])
        }

        private func check(_ program: String, _ arguments: [String]) throws {
            let result = try owner.run(binDirectory + "/" + program, arguments)
            guard result.status == 0 else {
                throw EmbeddedPostgresError.commandFailed(command: "\(program) \(arguments.first ?? "")",
                                                          status: result.status, output: result.tail)
            }
        }

        private func logTail() -> String {
            guard let data = FileManager.default.contents(atPath: files.logFile) else { return "(no log)" }
            return ChildProcess.lastLines(String(decoding: data, as: UTF8.self), 15)
        }
    }

    /// Where the server binaries are.
    enum PostgresBinaries {
        static let required = ["initdb", "pg_ctl", "postgres"]

        /// `override` (PG_BIN_DIR) if given; else the newest Debian version in
        /// `versionsRoot`, then `pg_config --bindir`, then the directory of an
        /// initdb on PATH (following symbolic links).
        static func locate(override: String?, versionsRoot: String = "/usr/lib/postgresql",
                           searchPath: String = ProcessInfo.processInfo.environment["PATH"] ?? "") throws -> String {
            if let override {
                let missing = required.filter { !FileManager.default.isExecutableFile(atPath: override + "/" + $0) }
                guard missing.isEmpty else {
                    throw EmbeddedPostgresError.incompleteBinDirectory(override, missing: missing)
                }
                return override
            }
            let versions = ((try? FileManager.default.contentsOfDirectory(atPath: versionsRoot)) ?? [])
                .sorted { versionNumbers($0).lexicographicallyPrecedes(versionNumbers($1)) }
            if let newest = versions.reversed().map({ "\(versionsRoot)/\($0)/bin" }).first(where: isComplete) {
                return newest
            }
            let pathDirectories = searchPath.split(separator: ":").map(String.init)
            if let pgConfig = pathDirectories.map({ $0 + "/pg_config" }).first(where: FileManager.default.isExecutableFile),
               let result = try? ChildProcess.run(pgConfig, ["--bindir"]), result.status == 0,
               case let directory = result.output.trimmingCharacters(in: .whitespacesAndNewlines), isComplete(directory) {
                return directory
            }
            for directory in pathDirectories where FileManager.default.isExecutableFile(atPath: directory + "/initdb") {
                let initdb = URL(fileURLWithPath: directory + "/initdb").resolvingSymlinksInPath().path
                if isComplete(ClusterPaths.parent(initdb)) { return ClusterPaths.parent(initdb) }
            }
            throw EmbeddedPostgresError.serverNotInstalled(searched: [
                "\(versionsRoot)/*/bin", "pg_config --bindir", "PATH",
            ])
        }

        private static func isComplete(_ directory: String) -> Bool {
            required.allSatisfy { FileManager.default.isExecutableFile(atPath: directory + "/" + $0) }
        }

        /// "9.6" → [9, 6], "15" → [15]: so that 9.6 sorts before 15.
        private static func versionNumbers(_ name: String) -> [Int] {
            name.split(separator: ".").map { Int($0) ?? -1 }
        }
    }
}
