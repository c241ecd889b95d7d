import XCTest

/// A test with its own database and its own server process on it.
class ServerTestCase: XCTestCase {
    var database: TestDatabase!
    var server: ServerProcess!

    /// Settings added to every server this test starts.
    var extraEnvironment: [String: String] { [:] }

    override func setUpWithError() throws {
        database = try TestDatabase()
        server = try startServer()
    }

    override func tearDown() {
        if let server, server.process.isRunning { _ = server.terminate(signal: SIGKILL) }
        server = nil
        database?.drop()
    }

    func startServer(_ environment: [String: String] = [:]) throws -> ServerProcess {
        var env = ["DATABASE_URL": database.url]
        env.merge(extraEnvironment) { $1 }
        env.merge(environment) { $1 }
        return try ServerProcess(environment: env)
    }

    func count(_ sql: String) -> Int {
        Int(((try? database.scalar(sql)) ?? nil) ?? "-1") ?? -1
    }

    /// Sessions waiting for a lock on `table`, for one in `mode` (as
    /// pg_locks names it, e.g. RowExclusiveLock) when given; -1 if unknown.
    func lockWaiters(on table: String, mode: String? = nil) -> Int {
        count("SELECT count(*) FROM pg_locks WHERE relation = '\(table)'::regclass AND NOT granted"
              + (mode.map { " AND mode = '\($0)'" } ?? ""))
    }
}
