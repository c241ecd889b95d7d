import CLibPQ
import Foundation
import XCTest

/// A fresh, uniquely named database on the server TEST_DATABASE_URL points
/// at (scripts/test starts one), for one test. Blocking libpq is fine here:
/// this is test code, never on the loop under test.
final class TestDatabase {
    let name: String
    /// The database's connection string: TEST_DATABASE_URL with the
    /// database name replaced (a URL stays a URL).
    let url: String
    private let adminURL: String

    /// Creates the database; `drop()` removes it (call it in tearDown).
    init() throws {
        guard let admin = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !admin.isEmpty else {
            throw TestFailure("TEST_DATABASE_URL is not set: point it at a PostgreSQL server, "
                + "e.g. postgres://postgres@127.0.0.1:54329/postgres, or run the tests with scripts/test")
        }
        adminURL = admin
        name = "test_\(String(UInt64.random(in: 0...UInt64.max), radix: 36))_\(getpid())"
        url = TestDatabase.conninfo(admin, database: name)
        try TestDatabase.exec(adminURL, "CREATE DATABASE \(name)")
    }

    /// Drops the database, ending any session still on it.
    func drop() {
        _ = try? TestDatabase.exec(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs SQL on a short-lived connection and returns the rows as text.
    @discardableResult
    func query(_ sql: String) throws -> [[String?]] {
        try TestDatabase.exec(url, sql)
    }

    /// Another session holds a lock on `table` in `mode` (ACCESS EXCLUSIVE:
    /// reads and writes wait; EXCLUSIVE: only writes do) from when this
    /// returns until the test calls `release()` on the result: the test
    /// decides how long, by what it has seen happen meanwhile.
    func holdLock(on table: String, mode: String = "ACCESS EXCLUSIVE") throws -> TableLock {
        try TableLock(url: url, table: table, mode: mode)
    }

    /// The first column of the first row.
    func scalar(_ sql: String) throws -> String? {
        try TestDatabase.scalar(url, sql)
    }

    /// The first column of the first row, from the database at `url`.
    static func scalar(_ url: String, _ sql: String) throws -> String? {
        try exec(url, sql).first?.first ?? nil
    }

    /// `conninfo` (URL or key=value) naming `database` instead.
    static func conninfo(_ conninfo: String, database: String) -> String {
        guard let schemeEnd = conninfo.range(of: "://") else {
            // In a key=value string the last setting of a keyword wins.
            return conninfo + " dbname=" + database
        }
        let rest = conninfo[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let queryStart = rest[authorityEnd...].firstIndex(of: "?") ?? rest.endIndex
        return String(conninfo[..<authorityEnd]) + "/" + database + String(rest[queryStart...])
    }

    /// Opens a session to `url` whose connecting and whose statements
    /// are bounded in time, so that a test against a database in trouble
    /// (a full disk, a lost synchronous standby) fails instead of hanging:
    /// 10 s to connect, 120 s per statement. The URL's own settings come
    /// first; these override any it has.
    static func connect(_ url: String) -> OpaquePointer? {
        let keywords = ["dbname", "connect_timeout", "options"]
        let values = [url, "10", "-c statement_timeout=120s"]
        let keywordPointers = keywords.map { strdup($0) } + [nil]
        let valuePointers = values.map { strdup($0) } + [nil]
        defer { (keywordPointers + valuePointers).forEach { free($0) } }
        return keywordPointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { keywordBuffer in
            valuePointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { valueBuffer in
                PQconnectdbParams(keywordBuffer.baseAddress, valueBuffer.baseAddress, 1)
            }
        }
    }

    @discardableResult
    static func exec(_ url: String, _ sql: String) throws -> [[String?]] {
        guard let connection = connect(url) else { throw TestFailure("out of memory") }
        defer { PQfinish(connection) }
        guard PQstatus(connection) == CONNECTION_OK else {
            throw TestFailure("cannot connect: \(String(cString: PQerrorMessage(connection)))")
        }
        guard let result = PQexec(connection, sql) else { throw TestFailure("no result") }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            throw TestFailure("\(sql): \(String(cString: PQresultErrorMessage(result)))")
        }
        return (0..<PQntuples(result)).map { row in
            (0..<PQnfields(result)).map { column in
                PQgetisnull(result, row, column) != 0 ? nil : String(cString: PQgetvalue(result, row, column))
            }
        }
    }
}

/// A session of its own holding a lock on a table in an open transaction,
/// until `release()` (or deinit) commits and closes it.
final class TableLock {
    private var connection: OpaquePointer?

    /// Returns once the lock is granted.
    init(url: String, table: String, mode: String) throws {
        guard let connection = TestDatabase.connect(url) else { throw TestFailure("out of memory") }
        self.connection = connection
        guard PQstatus(connection) == CONNECTION_OK else {
            defer { release() }
            throw TestFailure("cannot connect: \(String(cString: PQerrorMessage(connection)))")
        }
        for sql in ["BEGIN", "LOCK TABLE \(table) IN \(mode) MODE"] {
            let result = PQexec(connection, sql)
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_COMMAND_OK else {
                defer { release() }
                throw TestFailure("\(sql): \(String(cString: PQerrorMessage(connection)))")
            }
        }
    }

    deinit { release() }

    /// Ends the transaction, so the lock, and the session.
    func release() {
        guard let connection else { return }
        self.connection = nil
        PQclear(PQexec(connection, "COMMIT"))
        PQfinish(connection)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` (outside any event loop) until it holds or `seconds`
/// pass.
func eventually(_ seconds: Double = 10, _ message: String, file: StaticString = #filePath, line: UInt = #line,
                _ condition: () throws -> Bool) {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? condition()) == true { return }
        usleep(50_000)
    }
    XCTFail("timed out: \(message)", file: file, line: line)
}
