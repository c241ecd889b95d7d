@testable import EmbeddedPostgres
import CLibPQ
import Foundation
import Glibc
import Logging
@testable import TestSupport
import XCTest
@testable import EmbeddedPostgres

private typealias ClusterFiles = EmbeddedPostgres.ClusterFiles
private typealias ClusterPaths = EmbeddedPostgres.ClusterPaths
private typealias PostgresBinaries = EmbeddedPostgres.PostgresBinaries
private typealias PostmasterFile = EmbeddedPostgres.PostmasterFile

/// The embedded cluster with the real server programs (PG_BIN_DIR, or
/// Debian's newest). Each test has its own directory under /tmp. As root
/// (CI) the cluster runs as the postgres user: the path that matters there.
final class EmbeddedPostgresTests: XCTestCase {
    private var directory = ""
    private var instances: [EmbeddedPostgres] = []
    private var dataDirectories: [String] = []
    private var extraCleanup: [String] = []
    private let logs = CapturedLogs()

    override func setUpWithError() throws {
        var template = Array("/tmp/tetcore-ept.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp: \(String(cString: strerror(errno)))") }
        directory = String(cString: made)
        // mkdtemp makes it 0700: open it so that the postgres user can pass.
        XCTAssertEqual(chmod(directory, 0o755), 0)
    }

    override func tearDown() {
        instances.reversed().forEach { $0.stop() }
        instances = []
        // A test that failed half-way may leave a server that no instance
        // started: shut it down at once (SIGQUIT is immediate shutdown).
        for data in dataDirectories {
            if let postmaster = try? PostmasterFile(path: data + "/postmaster.pid") { kill(postmaster.pid, SIGQUIT) }
        }
        for path in [directory] + extraCleanup { try? FileManager.default.removeItem(atPath: path) }
        extraCleanup = []
        dataDirectories = []
        // Left only if empty: it may hold real relocated clusters.
        rmdir(EmbeddedPostgres.relocationRoot)
    }

    // MARK: Lifecycle

    func testFirstStartCreatesTheClusterAndItsDatabaseAndRowsSurviveARestart() throws {
        let data = directory + "/pg"
        let first = instance(data)
        let url = try first.start()
        XCTAssertEqual(url, "host='\(data)/run' port='5432' user='postgres' dbname='tetcore_analytics'")
        XCTAssertEqual(try rows(url, "SELECT current_database(), current_user"), [["tetcore_analytics", "postgres"]])
        XCTAssertEqual(try rows(url, "SHOW listen_addresses"), [[""]])
        XCTAssertEqual(try rows(url, "SHOW unix_socket_permissions"), [["0700"]])
        try rows(url, "CREATE TABLE kept (id integer PRIMARY KEY, note text)")
        try rows(url, "INSERT INTO kept VALUES (1, 'written before the restart')")

        XCTAssertEqual(try mode(of: data), 0o700)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/postgres.log"))
        if geteuid() == 0 {
            let postgres = try XCTUnwrap(getpwnam("postgres")).pointee.pw_uid
            XCTAssertEqual(try ClusterPaths.ownerID(of: data), postgres)
            XCTAssertEqual(try ClusterPaths.ownerID(of: directory + "/postgres.log"), postgres)
        }

        first.stop()
        XCTAssertEqual(PQping(url), PQPING_NO_RESPONSE)
        XCTAssertTrue(logs.messages(at: .info).contains("stopped the embedded PostgreSQL"))

        let second = instance(data)
        XCTAssertEqual(try second.start(), url)
        XCTAssertEqual(logs.messages(at: .info).filter { $0 == "creating the embedded PostgreSQL cluster" }.count, 1)
        XCTAssertEqual(try rows(url, "SELECT id, note FROM kept"), [["1", "written before the restart"]])
        second.stop()
        XCTAssertEqual(PQping(url), PQPING_NO_RESPONSE)
    }

    func testASecondInstanceReusesTheRunningClusterAndLeavesItRunning() throws {
        let data = directory + "/pg"
        let owner = instance(data)
        let url = try owner.start()
        let visitor = instance(data)
        XCTAssertEqual(try visitor.start(), url)
        XCTAssertTrue(logs.messages(at: .info).contains("reusing the embedded PostgreSQL that is already running"))

        visitor.stop()
        XCTAssertEqual(PQping(url), PQPING_OK)
        XCTAssertTrue(logs.messages(at: .info)
            .contains("leaving the embedded PostgreSQL running: it was running before this process started"))
        owner.stop()
        XCTAssertEqual(PQping(url), PQPING_NO_RESPONSE)
    }

    func testStartAfterTheServerWasKilledRecoversTheCommittedRows() throws {
        let data = directory + "/pg"
        let crashed = instance(data)
        let url = try crashed.start()
        try rows(url, "CREATE TABLE kept AS SELECT 42 AS answer")
        let postmaster = try PostmasterFile(path: data + "/postmaster.pid")
        XCTAssertEqual(kill(postmaster.pid, SIGKILL), 0)
        eventually(60, "the killed server is gone") { kill(postmaster.pid, 0) != 0 && errno == ESRCH }
        // Its postmaster.pid stays behind, as after a real crash.
        XCTAssertTrue(FileManager.default.fileExists(atPath: data + "/postmaster.pid"))

        let restarted = instance(data)
        XCTAssertEqual(try restarted.start(), url)
        XCTAssertEqual(try rows(url, "SELECT answer FROM kept"), [["42"]])
        restarted.stop()
        XCTAssertEqual(PQping(url), PQPING_NO_RESPONSE)
    }

    func testAnotherDatabaseNameIsCreatedBesideTheDefault() throws {
        var options = EmbeddedPostgres.Options(dataDirectory: directory + "/pg")
        options.databaseName = "Mixed Case-name"
        let server = instance(options: options)
        let url = try server.start()
        XCTAssertTrue(url.hasSuffix("dbname='Mixed Case-name'"), url)
        XCTAssertEqual(try rows(url, "SELECT current_database()"), [["Mixed Case-name"]])
    }

    // MARK: Socket directory

    func testALongDataDirectoryPutsTheSocketInAPrivateTmpDirectory() throws {
        let data = directory + "/" + String(repeating: "d", count: 100) + "/pg"
        let socketDirectory = ClusterFiles(dataDirectory: data).socketDirectory
        extraCleanup.append(socketDirectory)
        XCTAssertEqual(socketDirectory, "/tmp/tetcore-pg-" + ClusterPaths.fingerprint(data))

        let url = try instance(data).start()
        XCTAssertTrue(url.hasPrefix("host='\(socketDirectory)' "), url)
        XCTAssertEqual(try rows(url, "SELECT 1"), [["1"]])
        XCTAssertEqual(try mode(of: socketDirectory), 0o700)
    }

    func testTheSocketDirectoryIsInsideTheDataDirectoryWhenItsPathFits() {
        XCTAssertEqual(ClusterFiles(dataDirectory: "/srv/tetcore/pg").socketDirectory, "/srv/tetcore/pg/run")
        // 107 bytes is the most a socket path may have.
        let fits = "/" + String(repeating: "a", count: 107 - "/run/.s.PGSQL.5432".utf8.count - 1)
        XCTAssertEqual(ClusterFiles(dataDirectory: fits).socketDirectory, fits + "/run")
        let tooLong = fits + "a"
        XCTAssertEqual(ClusterFiles(dataDirectory: tooLong).socketDirectory,
                       "/tmp/tetcore-pg-" + ClusterPaths.fingerprint(tooLong))
        // A quote would need escaping in postgresql.conf: avoided instead.
        XCTAssertTrue(ClusterFiles(dataDirectory: "/srv/it's/pg").socketDirectory.hasPrefix("/tmp/tetcore-pg-"))
    }

    func testFingerprintsAreStableSixteenHexDigits() {
        // 64-bit FNV-1a of the empty string and of "a" (published test values).
        XCTAssertEqual(ClusterPaths.fingerprint(""), "cbf29ce484222325")
        XCTAssertEqual(ClusterPaths.fingerprint("a"), "af63dc4c8601ec8c")
        XCTAssertNotEqual(ClusterPaths.fingerprint("/srv/a/pg"), ClusterPaths.fingerprint("/srv/b/pg"))
    }

    // MARK: Errors

    func testMissingServerProgramsNameTheDebianPackage() throws {
        let empty = directory + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        XCTAssertThrowsError(try PostgresBinaries.locate(override: nil, versionsRoot: empty, searchPath: empty)) { error in
            guard case EmbeddedPostgresError.serverNotInstalled = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("apt-get install postgresql"), "\(error)")
        }
        XCTAssertThrowsError(try PostgresBinaries.locate(override: empty)) { error in
            guard case EmbeddedPostgresError.incompleteBinDirectory(empty, let missing) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(missing, ["initdb", "pg_ctl", "postgres"])
        }
    }

    func testTheNewestVersionDirectoryWins() throws {
        let root = directory + "/versions"
        for version in ["9.6", "15", "16"] {
            let bin = "\(root)/\(version)/bin"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            // 16 is incomplete: without postgres it is passed over.
            for program in PostgresBinaries.required where !(version == "16" && program == "postgres") {
                XCTAssertTrue(FileManager.default.createFile(atPath: "\(bin)/\(program)", contents: Data(),
                                                             attributes: [.posixPermissions: 0o755]))
            }
        }
        XCTAssertEqual(try PostgresBinaries.locate(override: nil, versionsRoot: root, searchPath: ""), "\(root)/15/bin")
    }

    func testAFailedInitdbThrowsWhatItPrinted() throws {
        let data = directory + "/pg"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
        XCTAssertTrue(FileManager.default.createFile(atPath: data + "/stray", contents: Data("x".utf8)))
        XCTAssertThrowsError(try instance(data).start()) { error in
            guard case EmbeddedPostgresError.commandFailed("initdb -D", let status, let output) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertNotEqual(status, 0)
            XCTAssertTrue(output.contains("exists but is not empty"), output)
        }
    }

    func testAFailedStartThrowsTheTailOfTheServerLog() throws {
        let data = directory + "/pg"
        let server = instance(data)
        _ = try server.start()
        server.stop()
        let config = try FileHandle(forWritingTo: URL(fileURLWithPath: data + "/postgresql.conf"))
        try config.seekToEnd()
        try config.write(contentsOf: Data("shared_buffers = 'plenty'\n".utf8))
        try config.close()

        XCTAssertThrowsError(try instance(data).start()) { error in
            guard case EmbeddedPostgresError.commandFailed("pg_ctl start", let status, let output) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertNotEqual(status, 0)
            XCTAssertTrue(output.contains("invalid value for parameter \"shared_buffers\": \"plenty\""), output)
        }
    }

    // MARK: As root

    func testAsRootAClosedParentMovesANewClusterAndLinksIt() throws {
        try XCTSkipUnless(geteuid() == 0, "only root hands the cluster to another user")
        let closed = directory + "/closed"
        XCTAssertEqual(mkdir(closed, 0o700), 0)
        let configured = closed + "/pg"
        let relocated = "\(EmbeddedPostgres.relocationRoot)/\(ClusterPaths.fingerprint(configured))/pg"
        extraCleanup.append(ClusterPaths.parent(relocated))
        dataDirectories.append(relocated)

        let first = instance(configured)
        let url = try first.start()
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: configured), relocated)
        XCTAssertEqual(url, "host='\(relocated)/run' port='5432' user='postgres' dbname='tetcore_analytics'")
        XCTAssertEqual(try mode(of: closed), 0o700, "the closed directory keeps its permissions")
        try rows(url, "CREATE TABLE kept AS SELECT 'moved' AS note")
        first.stop()

        let second = instance(configured)
        XCTAssertEqual(try second.start(), url)
        XCTAssertEqual(try rows(url, "SELECT note FROM kept"), [["moved"]])
        XCTAssertEqual(logs.messages(at: .warning).count, 1, "moved once, followed the link after")
    }

    func testAsRootAnExistingDataDirectoryBehindAClosedParentIsAnError() throws {
        try XCTSkipUnless(geteuid() == 0, "only root hands the cluster to another user")
        let closed = directory + "/closed"
        XCTAssertEqual(mkdir(closed, 0o700), 0)
        XCTAssertEqual(mkdir(closed + "/pg", 0o700), 0)
        XCTAssertThrowsError(try instance(closed + "/pg").start()) { error in
            guard case EmbeddedPostgresError.unreachableDataDirectory(closed + "/pg", "postgres", closed) = error else {
                return XCTFail("\(error)")
            }
        }
    }

    // MARK: Helpers

    private func instance(_ dataDirectory: String) -> EmbeddedPostgres {
        instance(options: EmbeddedPostgres.Options(dataDirectory: dataDirectory))
    }

    private func instance(options: EmbeddedPostgres.Options) -> EmbeddedPostgres {
        let logs = self.logs
        var logger = Logger(label: "embedded-postgres-tests") { _ in CapturingLogHandler(logs: logs) }
        logger.logLevel = .debug
        let server = EmbeddedPostgres(options: options, logger: logger)
        instances.append(server)
        dataDirectories.append(options.dataDirectory)
        return server
    }

    @discardableResult
    private func rows(_ conninfo: String, _ sql: String) throws -> [[String?]] {
        try TestDatabase.exec(conninfo, sql)
    }

    private func mode(of path: String) throws -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { throw TestFailure("stat \(path): \(String(cString: strerror(errno)))") }
        return info.st_mode & 0o777
    }
}
