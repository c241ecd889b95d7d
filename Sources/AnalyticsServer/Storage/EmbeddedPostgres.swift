import Foundation
import Glibc
import Logging

/// A private PostgreSQL cluster the server creates and runs itself when
/// DATABASE_URL is unset: Debian's server binaries, a data directory of its
/// own, a Unix socket only (no TCP port), started before the event loop and
/// stopped after it. Blocking child processes are fine here: this runs at
/// start-up and shutdown, never on a request path.
public final class EmbeddedPostgres {
    public let dataDirectory: String
    public let databaseName = "tetcore_analytics"
    private let logger: Logger
    private var startedHere = false
    private var binDirectory = ""
    private var runAs: String?

    public init(dataDirectory: String, logger: Logger) {
        self.dataDirectory = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        self.logger = logger
    }

    /// Socket directory: inside the data directory's parent when the path
    /// fits a socket address (107 bytes), else a per-cluster one in /tmp.
    var socketDirectory: String {
        let beside = (dataDirectory as NSString).deletingLastPathComponent + "/run"
        if beside.utf8.count + 20 < 100 { return beside }
        // FNV-1a: a name that stays the same across runs (hashValue does not).
        let hash = dataDirectory.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }
        return "/tmp/tetcore-pg-\(String(hash, radix: 16))"
    }

    /// Starts (creating on first use) the cluster; returns its conninfo.
    public func start() throws -> String {
        binDirectory = try EmbeddedPostgres.findBinaries()
        runAs = try EmbeddedPostgres.unprivilegedUser()
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true,
                                        attributes: [.posixPermissions: 0o700])
        try fileManager.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true,
                                        attributes: [.posixPermissions: 0o700])
        if let user = runAs {
            try makeReachable()
            try run("/bin/chown", ["-R", user, dataDirectory, socketDirectory], asUser: nil)
        }
        if !fileManager.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            logger.info("creating the embedded PostgreSQL cluster", metadata: ["directory": "\(dataDirectory)"])
            try run(binDirectory + "/initdb", ["-D", dataDirectory, "-U", "postgres", "-A", "trust",
                                               "--encoding=UTF8", "--locale=C"], asUser: runAs)
        }
        if (try? run(binDirectory + "/pg_ctl", ["status", "-D", dataDirectory], asUser: runAs)) != nil {
            logger.info("reusing the embedded PostgreSQL that is already running")
        } else {
            let logFile = (dataDirectory as NSString).deletingLastPathComponent + "/postgres.log"
            logger.info("starting the embedded PostgreSQL", metadata: ["log": "\(logFile)"])
            let options = "-c listen_addresses='' -c unix_socket_directories='\(socketDirectory)' -c unix_socket_permissions=0700"
            try run(binDirectory + "/pg_ctl", ["start", "-w", "-t", "60", "-D", dataDirectory, "-l", logFile, "-o", options],
                    asUser: runAs)
            startedHere = true
        }
        let exists = try run(binDirectory + "/psql", ["-h", socketDirectory, "-U", "postgres", "-d", "postgres", "-tAc",
                                                      "SELECT 1 FROM pg_database WHERE datname = '\(databaseName)'"], asUser: runAs)
        if !exists.contains("1") {
            try run(binDirectory + "/createdb", ["-h", socketDirectory, "-U", "postgres", databaseName], asUser: runAs)
        }
        return "host=\(socketDirectory) user=postgres dbname=\(databaseName)"
    }

    /// Stops the cluster if this process started it.
    public func stop() {
        guard startedHere else { return }
        do {
            try run(binDirectory + "/pg_ctl", ["stop", "-m", "fast", "-w", "-D", dataDirectory], asUser: runAs)
            startedHere = false
            logger.info("stopped the embedded PostgreSQL")
        } catch {
            logger.error("cannot stop the embedded PostgreSQL", metadata: ["error": "\(error)"])
        }
    }

    /// PG_BIN_DIR, else the newest /usr/lib/postgresql/N/bin.
    static func findBinaries() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["PG_BIN_DIR"], !configured.isEmpty { return configured }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/pg_ctl") {
            return "\(root)/\(version)/bin"
        }
        throw EmbeddedPostgresError("no PostgreSQL server found: install Debian's postgresql package, or set DATABASE_URL")
    }

    /// PostgreSQL refuses to run as root: as root, run it as `postgres` (or
    /// a system user created for it); otherwise as the current user.
    static func unprivilegedUser() throws -> String? {
        guard geteuid() == 0 else { return nil }
        if getpwnam("postgres") != nil { return "postgres" }
        if getpwnam("tetcore-pg") == nil {
            try runProcess("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "tetcore-pg"])
        }
        return "tetcore-pg"
    }

    /// The cluster's user must be able to traverse every parent directory
    /// (a checkout under /root is 0700): add search permission (not read)
    /// for others where it is missing, and say so.
    private func makeReachable() throws {
        var path = (dataDirectory as NSString).deletingLastPathComponent
        var blocked: [String] = []
        while path != "/" && !path.isEmpty {
            if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int,
               mode & 0o001 == 0 {
                blocked.append(path)
            }
            path = (path as NSString).deletingLastPathComponent
        }
        for directory in blocked {
            logger.warning("allowing the PostgreSQL user to traverse a parent directory (o+x)", metadata: ["directory": "\(directory)"])
            try EmbeddedPostgres.runProcess("/bin/chmod", ["o+x", directory])
        }
    }

    @discardableResult
    private func run(_ executable: String, _ arguments: [String], asUser user: String?) throws -> String {
        if let user {
            return try EmbeddedPostgres.runProcess("/usr/sbin/runuser", ["-u", user, "--", executable] + arguments)
        }
        return try EmbeddedPostgres.runProcess(executable, arguments)
    }

    /// Runs a program to completion; throws with the tail of its output.
    @discardableResult
    static func runProcess(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw EmbeddedPostgresError("\((executable as NSString).lastPathComponent) \(arguments.first ?? "") failed " +
                                        "(status \(process.terminationStatus)): \(text.suffix(600))")
        }
        return text
    }
}

public struct EmbeddedPostgresError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
