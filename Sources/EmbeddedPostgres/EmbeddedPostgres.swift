// EmbeddedPostgres: the PostgreSQL cluster the server runs for itself when
// DATABASE_URL is unset. It owns a data directory, the server programs that
// work on it (initdb, pg_ctl) and the database it hands to the pools; it
// depends on nothing else of the project. It runs before any event loop
// starts, so it may block (initdb, pg_ctl, a first connection).
import CLibPQ
import Foundation
import Glibc
import Logging

/// A private PostgreSQL cluster: Debian's server binaries, a data directory
/// of its own, a Unix socket only (no TCP port).
///
/// Blocking by design: `start()` and `stop()` run child processes (initdb,
/// pg_ctl, runuser) and a libpq connection to completion. The service calls
/// `start()` before its event loop exists and `stop()` after the loop has
/// ended, so nothing is kept waiting.
///
/// As root: PostgreSQL refuses to run as root, so the cluster belongs to the
/// `postgres` user (Debian's package creates it) or, where there is none, to
/// a system user `tetcore-pg` created for it, and every server program runs
/// through runuser. That user must be able to reach the data directory. When
/// a parent of a new data directory is closed to it (a checkout under /root,
/// mode 0700), the cluster is made in /var/lib/tetcore-analytics/<hash>/pg
/// instead and the configured path becomes a symbolic link to it, which later
/// starts follow; no permission of the closed directory is changed. An
/// existing data directory it cannot reach is an error naming the parent.
package final class EmbeddedPostgres {
    package struct Options {
        /// The cluster's data directory; created with the cluster on first start.
        package var dataDirectory: String
        /// The directory of initdb, pg_ctl and postgres; nil: search for it.
        package var binDirectory: String?
        /// The database that `start()` creates if needed and connects to.
        package var databaseName: String

        package init(dataDirectory: String = "./.tetcore/pg",
                    binDirectory: String? = EmbeddedPostgres.Options.environmentBinDirectory,
                    databaseName: String = "tetcore_analytics") {
            self.dataDirectory = dataDirectory
            self.binDirectory = binDirectory
            self.databaseName = databaseName
        }

        /// PG_BIN_DIR from the environment, when set and not empty.
        package static var environmentBinDirectory: String? {
            guard let value = ProcessInfo.processInfo.environment["PG_BIN_DIR"], !value.isEmpty else { return nil }
            return value
        }
    }

    /// The superuser initdb creates, whoever runs the cluster.
    static let superuser = "postgres"
    /// Fixed: with no TCP listener the port only names the socket file.
    static let port = 5432
    /// Where clusters go whose configured directory their user cannot reach.
    static let relocationRoot = "/var/lib/tetcore-analytics"
    /// A start right after a crash can find the old server's processes still
    /// holding its lock file or shared memory for a moment: retry this often,
    /// a second apart.
    static let startAttempts = 5

    /// A cluster that `start()` found running or started.
    private struct Cluster {
        let programs: ServerPrograms
        /// False when it was already running: then `stop()` leaves it running.
        let startedHere: Bool
        let connectionString: String
    }

    private let options: Options
    private let logger: Logger
    private var cluster: Cluster?

    package init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// The default options with another data directory (EMBEDDED_PG_DIR).
    package convenience init(dataDirectory: String, logger: Logger) {
        self.init(options: Options(dataDirectory: dataDirectory), logger: logger)
    }

    /// Creates the cluster on first use, starts it unless it is already
    /// running, creates the database if missing, and returns a libpq
    /// connection string for it (key=value form, a Unix socket host).
    package func start() throws -> String {
        if let cluster { return cluster.connectionString }
        let binDirectory = try PostgresBinaries.locate(override: options.binDirectory)
        let owner = try ClusterOwner.forThisProcess(logger: logger)
        let files = ClusterFiles(dataDirectory: try placeDataDirectory(for: owner))
        try prepareDataDirectory(files, owner: owner)
        let programs = ServerPrograms(binDirectory: binDirectory, owner: owner, files: files)
        if !FileManager.default.fileExists(atPath: files.versionFile) {
            logger.info("creating the embedded PostgreSQL cluster", metadata: ["data_directory": "\(files.dataDirectory)"])
            try programs.initdb()
        }
        try prepareSocketDirectory(files, owner: owner)
        try writeSettings(files, owner: owner)

        let startedHere = try startOrReuse(programs)
        let postmaster = try PostmasterFile(path: files.postmasterPidFile)
        let connection = { (database: String) in
            Conninfo.make([("host", postmaster.socketDirectory), ("port", "\(postmaster.port)"),
                           ("user", EmbeddedPostgres.superuser), ("dbname", database)])
        }
        let cluster = Cluster(programs: programs, startedHere: startedHere, connectionString: connection(options.databaseName))
        // Known before the database step, so that stop() works if it fails.
        self.cluster = cluster
        try createDatabaseIfMissing(adminConninfo: connection("postgres"))
        logger.info("embedded PostgreSQL is ready", metadata: [
            "socket_directory": "\(postmaster.socketDirectory)", "database": "\(options.databaseName)",
            "log": "\(files.logFile)",
        ])
        return cluster.connectionString
    }

    /// Stops the cluster if `start()` started it (`pg_ctl stop -m fast`);
    /// one that was already running is left running. Logs, never throws.
    package func stop() {
        guard let cluster else { return }
        self.cluster = nil
        guard cluster.startedHere else {
            logger.info("leaving the embedded PostgreSQL running: it was running before this process started",
                        metadata: ["data_directory": "\(cluster.programs.files.dataDirectory)"])
            return
        }
        do {
            try cluster.programs.stop()
            logger.info("stopped the embedded PostgreSQL",
                        metadata: ["data_directory": "\(cluster.programs.files.dataDirectory)"])
        } catch {
            logger.error("cannot stop the embedded PostgreSQL", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Start-up steps

    /// The data directory to use: the configured one, the target of the link
    /// an earlier relocation left there, or (as root, when a parent is closed
    /// to the cluster's user) a new relocation.
    private func placeDataDirectory(for owner: ClusterOwner) throws -> String {
        let configured = ClusterPaths.absolute(options.dataDirectory)
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: configured) {
            return ClusterPaths.absolute(target, base: ClusterPaths.parent(configured))
        }
        guard case .systemUser = owner else { return configured }
        // The data directory itself is given to the owner below: only its
        // parents have to let the owner through.
        let parent = ClusterPaths.parent(configured)
        if owner.canReach(ClusterPaths.nearestExisting(parent)) { return configured }
        let closed = ClusterPaths.ancestors(of: parent).first { !owner.canReach($0) } ?? parent
        if FileManager.default.fileExists(atPath: configured) {
            throw EmbeddedPostgresError.unreachableDataDirectory(configured, user: owner.name, blockedBy: closed)
        }
        let relocated = "\(EmbeddedPostgres.relocationRoot)/\(ClusterPaths.fingerprint(configured))/pg"
        logger.warning("the PostgreSQL user cannot reach the data directory: the cluster goes elsewhere, linked from it",
                       metadata: [
                           "configured": "\(configured)", "closed_directory": "\(closed)", "user": "\(owner.name)",
                           "cluster": "\(relocated)",
                       ])
        try ClusterPaths.makeDirectory(ClusterPaths.parent(relocated))
        try ClusterPaths.makeDirectory(parent)
        do {
            try FileManager.default.createSymbolicLink(atPath: configured, withDestinationPath: relocated)
        } catch {
            throw EmbeddedPostgresError.filesystem(path: configured, reason: "cannot link it to \(relocated): \(error)")
        }
        return relocated
    }

    /// Makes the data directory (mode 0700, as PostgreSQL requires; its
    /// parents keep the usual permissions so the owner can pass through) and
    /// gives it and the log file to the cluster's owner.
    private func prepareDataDirectory(_ files: ClusterFiles, owner: ClusterOwner) throws {
        if !FileManager.default.fileExists(atPath: files.dataDirectory) {
            try ClusterPaths.makeDirectory(ClusterPaths.parent(files.dataDirectory))
            try ClusterPaths.makePrivateDirectory(files.dataDirectory)
        }
        guard case .systemUser = owner else { return }
        if !FileManager.default.fileExists(atPath: files.logFile) {
            // pg_ctl opens the log as the owner, who may not write in the parent.
            guard FileManager.default.createFile(atPath: files.logFile, contents: nil,
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw EmbeddedPostgresError.filesystem(path: files.logFile, reason: "cannot create the server log")
            }
        }
        try owner.takeOwnership(of: files.logFile, recursive: false)
        // A directory made by root, or left by another user, is handed over whole.
        if try ClusterPaths.ownerID(of: files.dataDirectory) != owner.uid {
            try owner.takeOwnership(of: files.dataDirectory, recursive: true)
        }
    }

    /// Makes the socket directory: inside the data directory, or in /tmp,
    /// where anyone could have made it first: there it must be a real
    /// directory, private to this process's user or the owner, before it is
    /// used.
    private func prepareSocketDirectory(_ files: ClusterFiles, owner: ClusterOwner) throws {
        let directory = files.socketDirectory
        guard directory.hasPrefix(ClusterFiles.sharedSocketRoot) else {
            try ClusterPaths.makePrivateDirectory(directory)
            return try owner.takeOwnership(of: directory, recursive: false)
        }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw EmbeddedPostgresError.filesystem(path: directory, reason: String(cString: strerror(errno)))
        }
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_mode & 0o077 == 0,
              info.st_uid == owner.uid || info.st_uid == geteuid() else {
            throw EmbeddedPostgresError.filesystem(
                path: directory, reason: "not a private directory of \(owner.name): remove it and start again")
        }
        try owner.takeOwnership(of: directory, recursive: false)
    }

    /// Rewrites the cluster's own settings file on every start (so a moved
    /// data directory gets its new socket directory) and makes sure
    /// postgresql.conf includes it.
    private func writeSettings(_ files: ClusterFiles, owner: ClusterOwner) throws {
        let settings = """
            # Written by tetcore-analytics at every start of its embedded cluster.
            # Unix socket only: no TCP listener.
            listen_addresses = ''
            port = \(EmbeddedPostgres.port)
            unix_socket_directories = '\(files.socketDirectory)'
            unix_socket_permissions = 0700

            """
        do {
            try settings.write(toFile: files.settingsFile, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: files.settingsFile)
        } catch {
            throw EmbeddedPostgresError.filesystem(path: files.settingsFile, reason: "\(error)")
        }
        try owner.takeOwnership(of: files.settingsFile, recursive: false)

        let include = "include_if_exists = '\(ClusterFiles.settingsFileName)'"
        guard let main = FileManager.default.contents(atPath: files.mainConfigFile) else {
            throw EmbeddedPostgresError.filesystem(path: files.mainConfigFile, reason: "cannot read it")
        }
        if String(decoding: main, as: UTF8.self).contains(include) { return }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: files.mainConfigFile))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("\n# tetcore-analytics: its own settings\n\(include)\n".utf8))
        } catch {
            throw EmbeddedPostgresError.filesystem(path: files.mainConfigFile, reason: "cannot append to it: \(error)")
        }
    }

    /// Starts the server unless it is running already; true if started here.
    private func startOrReuse(_ programs: ServerPrograms) throws -> Bool {
        var attempt = 1
        while true {
            if try programs.isRunning() {
                logger.info("reusing the embedded PostgreSQL that is already running",
                            metadata: ["data_directory": "\(programs.files.dataDirectory)"])
                return false
            }
            logger.info("starting the embedded PostgreSQL", metadata: [
                "data_directory": "\(programs.files.dataDirectory)", "log": "\(programs.files.logFile)",
            ])
            do {
                try programs.start()
                return true
            } catch let error as EmbeddedPostgresError {
                guard attempt < EmbeddedPostgres.startAttempts, programs.startFailureMayPass() else { throw error }
                logger.warning("the embedded PostgreSQL did not start; retrying", metadata: ["error": "\(error)"])
                attempt += 1
                sleep(1)
            }
        }
    }

    /// Connects as the superuser and creates the database if it is missing.
    private func createDatabaseIfMissing(adminConninfo: String) throws {
        guard let connection = PQconnectdb(adminConninfo) else { throw EmbeddedPostgresError.database("out of memory") }
        defer { PQfinish(connection) }
        guard PQstatus(connection) == CONNECTION_OK else {
            throw EmbeddedPostgresError.database("cannot connect (\(adminConninfo)): \(Self.message(connection))")
        }
        let name = options.databaseName
        let exists = try name.withCString { value -> Bool in
            var values: [UnsafePointer<CChar>?] = [value]
            guard let result = PQexecParams(connection, "SELECT 1 FROM pg_database WHERE datname = $1", 1, nil,
                                            &values, nil, nil, 0) else {
                throw EmbeddedPostgresError.database("out of memory")
            }
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_TUPLES_OK else {
                throw EmbeddedPostgresError.database("cannot list databases: \(Self.message(connection))")
            }
            return PQntuples(result) > 0
        }
        if exists { return }

        guard let quoted = PQescapeIdentifier(connection, name, name.utf8.count) else {
            throw EmbeddedPostgresError.database("cannot quote the database name \(name): \(Self.message(connection))")
        }
        let statement = "CREATE DATABASE \(String(cString: quoted))"
        PQfreemem(quoted)
        guard let result = PQexec(connection, statement) else { throw EmbeddedPostgresError.database("out of memory") }
        defer { PQclear(result) }
        // 42P04 duplicate_database: another process created it meanwhile.
        let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK || sqlState == "42P04" else {
            throw EmbeddedPostgresError.database("cannot create the database \(name): \(Self.message(connection))")
        }
        logger.info("created the database of the embedded PostgreSQL", metadata: ["database": "\(name)"])
    }

    private static func message(_ connection: OpaquePointer) -> String {
        String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension EmbeddedPostgres {
    /// libpq key=value connection strings.
    enum Conninfo {
        static func make(_ pairs: [(String, String)]) -> String {
            pairs.map { "\($0.0)=\(quote($0.1))" }.joined(separator: " ")
        }

        /// libpq's quoting: single quotes, with `\` and `'` escaped by `\`.
        static func quote(_ value: String) -> String {
            "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
    }
}
