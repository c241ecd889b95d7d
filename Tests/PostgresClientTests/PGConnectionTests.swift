@testable import PostgresClient
@testable import TestSupport
import XCTest
@testable import PostgresClient

final class PGConnectionTests: StorageTestCase {
    func testConnectsAndRunsASimpleQuery() {
        let connection = connect()
        XCTAssertEqual(connection.state, .ready)
        let rows = rows(connection, """
            CREATE TABLE t (a int, b text);
            INSERT INTO t VALUES (1, 'x'), (2, NULL);
            SELECT a, b FROM t ORDER BY a
            """, simple: true)
        XCTAssertEqual(rows?.columnNames, ["a", "b"])
        XCTAssertEqual(rows?.count, 2)
        XCTAssertEqual(rows?.string(0, 0), "1")
        XCTAssertEqual(rows?.string(0, "b"), "x")
        XCTAssertEqual(rows?.string(1, 0), "2")
        XCTAssertNil(rows?.string(1, "b"))
        XCTAssertEqual(connection.inFlight, 0)
        // Set at connect whatever the conninfo says, since results are decoded as UTF-8.
        XCTAssertEqual(self.rows(connection, "SHOW client_encoding")?.string(0, 0), "UTF8")
        XCTAssertEqual(self.rows(connection, "SHOW application_name")?.string(0, 0), "tetcore-analytics")
    }

    func testParametersOfEachKindRoundTrip() {
        let connection = connect(pipelined: true)
        let sql = """
            SELECT $1::text, $2::text, $3, $4, $5, $6, $7, $8, $9, $10::text, $11, \
            pg_typeof($3)::text, pg_typeof($5)::text, pg_typeof($6)::text, pg_typeof($8)::text, pg_typeof($9)::text
            """
        let parameters: [PGParameter] = [
            .text("héllo 'wörld' ✓"), .text(nil),
            .int64(Int64.min), .int64(0x0102_0304_0506_0708), .int32(-123_456), .bool(true), .bool(false),
            .binary(oid: 17, bytes: [0x00, 0xff, 0x10]),
            .binary(oid: 701, bytes: withUnsafeBytes(of: (1.5 as Double).bitPattern.bigEndian, Array.init)),
            .text(""), .binary(oid: 17, bytes: []),
        ]
        guard let rows = rows(connection, sql, parameters) else { return }
        let expected: [String?] = [
            "héllo 'wörld' ✓", nil, "-9223372036854775808", "72623859790382856", "-123456", "t", "f", "\\x00ff10",
            "1.5", "", "\\x", "bigint", "integer", "boolean", "bytea", "double precision",
        ]
        XCTAssertEqual((0..<expected.count).map { rows.string(0, $0) }, expected)
    }

    func testAffectedRowsCountsWhatACommandChanged() {
        let connection = connect()
        rows(connection, "CREATE TABLE t (a int)")
        XCTAssertEqual(rows(connection, "INSERT INTO t SELECT generate_series(1, 5)")?.affectedRows, 5)
        XCTAssertEqual(rows(connection, "UPDATE t SET a = a + 1 WHERE a > $1", [.int32(2)])?.affectedRows, 3)
        XCTAssertEqual(rows(connection, "CREATE INDEX ON t (a)")?.affectedRows, 0)
    }

    func testPipelineKeepsManyStatementsInFlightAndDeliversResultsInOrder() {
        let connection = connect(pipelined: true)
        var doubled: [Int64] = []
        for value in 0..<Int64(500) {
            connection.query("SELECT $1::int8 * 2", [.int64(value)]) { result in
                doubled.append((try? result.get()).flatMap { $0.string(0, 0) }.flatMap { Int64($0) } ?? -1)
            }
        }
        XCTAssertEqual(connection.inFlight, 500)
        XCTAssertTrue(doubled.isEmpty, "no completion may run before the loop does")
        LoopRunner.run(loop) { doubled.count == 500 }
        XCTAssertEqual(doubled, (0..<Int64(500)).map { $0 * 2 })
        XCTAssertEqual(connection.inFlight, 0)
    }

    func testAPreparedStatementIsPreparedOncePerSessionAndRunAtEveryUse() {
        let connection = connect(pipelined: true)
        let sql = "SELECT $1::int8 * 3"
        var tripled: [String?] = []
        // Sent together: the prepare and the first execution share the pipeline.
        for value in 1...8 {
            connection.query(sql, [.int64(Int64(value))], preparedAs: "triple") { tripled.append(try? $0.get().string(0, 0)) }
        }
        LoopRunner.run(loop) { tripled.count == 8 }
        XCTAssertEqual(tripled, (1...8).map { String($0 * 3) })
        let prepared = "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements"
        guard let before = rows(connection, prepared) else { return }
        XCTAssertEqual(before.count, 1, "prepared once")
        XCTAssertEqual(before.string(0, 0), sql)
        XCTAssertEqual(before.string(0, 1), "8", "executed at every use")

        // A new session has none: the name is prepared again at its first use.
        terminateBackend(rows(connection, "SELECT pg_backend_pid()")?.string(0, 0))
        LoopRunner.run(loop) { connection.state == .idle }
        var reconnected: PGError??
        connection.connect { reconnected = .some($0) }
        LoopRunner.run(loop) { reconnected != nil }
        XCTAssertEqual(rows(connection, sql, [.int64(5)], preparedAs: "triple")?.string(0, 0), "15")
        XCTAssertEqual(rows(connection, prepared)?.string(0, 1), "1")
    }

    func testAPrepareThatFailsFailsItsStatementAndIsTriedAgainAtTheNextUse() {
        let connection = connect(pipelined: true)
        let insert = "INSERT INTO made_later (a) VALUES ($1)"
        let failed = result(connection, insert, [.int32(1)], preparedAs: "insert_later")
        XCTAssertEqual(failed?.pgError?.kind, .query)
        XCTAssertEqual(failed?.pgError?.sqlState, "26000", "the execution finds no prepared statement")
        let warning = logs.records.first { $0.message == "cannot prepare a statement" }
        XCTAssertEqual(warning?.level, .warning)
        XCTAssertTrue(warning?.metadata["error"].map { "\($0)".contains("made_later") } ?? false, "\(String(describing: warning))")

        rows(connection, "CREATE TABLE made_later (a int)")
        XCTAssertEqual(rows(connection, insert, [.int32(2)], preparedAs: "insert_later")?.affectedRows, 1)
        XCTAssertEqual(try database.scalar("SELECT string_agg(a::text, ',') FROM made_later"), "2")
    }

    func testWithoutPipelineModeAPreparedNameIsIgnored() {
        let connection = connect(pipelined: false)
        XCTAssertEqual(rows(connection, "SELECT $1::int8 + 1", [.int64(1)], preparedAs: "plus_one")?.string(0, 0), "2")
        XCTAssertEqual(rows(connection, "SELECT count(*) FROM pg_prepared_statements")?.string(0, 0), "0")
    }

    func testAFailingStatementInAPipelineFailsAloneAndTheOthersCommit() {
        let connection = connect(pipelined: true)
        rows(connection, "CREATE TABLE t (a int)")
        var outcomes: [Result<PGRows, PGError>] = []
        connection.query("INSERT INTO t VALUES ($1)", [.int32(1)]) { outcomes.append($0) }
        connection.query("SELECT 1 / 0") { outcomes.append($0) }
        connection.query("INSERT INTO t VALUES ($1)", [.int32(3)]) { outcomes.append($0) }
        XCTAssertEqual(connection.inFlight, 3)
        LoopRunner.run(loop) { outcomes.count == 3 }
        XCTAssertEqual(try outcomes[0].get().affectedRows, 1)
        XCTAssertEqual(outcomes[1].pgError?.kind, .query)
        XCTAssertEqual(outcomes[1].pgError?.sqlState, "22012")
        XCTAssertEqual(outcomes[1].pgError?.message, "division by zero")
        XCTAssertEqual(try outcomes[2].get().affectedRows, 1)
        XCTAssertEqual(try database.scalar("SELECT string_agg(a::text, ',' ORDER BY a) FROM t"), "1,3")
    }

    func testWithoutPipelineStatementsWaitTheirTurnInOrder() {
        let connection = connect(pipelined: false)
        var outcomes: [Result<PGRows, PGError>] = []
        connection.query("SELECT pg_sleep(0.05), $1::int4", [.int32(1)]) { outcomes.append($0) }
        connection.query("SELECT 1 / 0") { outcomes.append($0) }
        connection.simpleQuery("SELECT 2; SELECT 3 AS last") { outcomes.append($0) }
        XCTAssertEqual(connection.inFlight, 3)
        LoopRunner.run(loop) { outcomes.count == 3 }
        XCTAssertEqual(try outcomes[0].get().string(0, 1), "1")
        XCTAssertEqual(outcomes[1].pgError?.sqlState, "22012")
        XCTAssertEqual(try outcomes[2].get().string(0, "last"), "3")
    }

    func testSimpleQueriesAreRefusedInPipelineModeFromTheLoop() {
        let connection = connect(pipelined: true)
        var outcome: Result<PGRows, PGError>?
        connection.simpleQuery("SELECT 1") { outcome = $0 }
        XCTAssertNil(outcome, "the completion must not run inside simpleQuery")
        LoopRunner.run(loop) { outcome != nil }
        XCTAssertEqual(outcome?.pgError?.kind, .query)
        XCTAssertEqual(rows(connection, "SELECT 1")?.string(0, 0), "1", "the connection is still usable")
    }

    func testATextParameterWithANulByteIsRefusedAndTheConnectionCarriesOn() {
        let connection = connect(pipelined: true)
        XCTAssertEqual(result(connection, "SELECT $1::text", [.text("a\u{0}b")])?.pgError?.kind, .query)
        XCTAssertEqual(rows(connection, "SELECT $1::text", [.text("ab")])?.string(0, 0), "ab")
    }

    func testConnectingToAClosedPortFailsWithAConnectionError() {
        let connection = makeConnection(conninfo: "host=127.0.0.1 port=\(closedPort()) user=postgres dbname=postgres")
        var outcome: PGError??
        connection.connect { outcome = .some($0) }
        XCTAssertTrue(outcome == nil, "the completion must not run inside connect")
        LoopRunner.run(loop, timeout: 60) { outcome != nil }
        XCTAssertEqual(outcome??.kind, .connection)
        XCTAssertEqual(connection.state, .idle)
    }

    /// A host name is resolved on libuv's thread pool, not by a blocking
    /// lookup inside libpq, and every address it resolves to is tried.
    func testAHostNameIsResolvedOffTheLoopAndConnects() throws {
        let url = database.url.replacingOccurrences(of: "127.0.0.1", with: "localhost")
        try XCTSkipIf(url == database.url, "TEST_DATABASE_URL does not name 127.0.0.1")
        XCTAssertEqual(ConninfoHosts(conninfo: url)?.namesToResolve, ["localhost"])
        XCTAssertEqual(ConninfoHosts(conninfo: database.url)?.namesToResolve, [])
        let connection = makeConnection(conninfo: url)
        var outcome: PGError??
        connection.connect { outcome = .some($0) }
        LoopRunner.run(loop, timeout: 60) { outcome != nil }
        XCTAssertNil(outcome ?? nil)
        XCTAssertEqual(rows(connection, "SELECT 1")?.string(0, 0), "1")
    }

    func testConnectingToAnUnknownHostFailsWithAConnectionError() {
        let connection = makeConnection(conninfo: "host=no-such-host.invalid user=postgres dbname=postgres")
        var outcome: PGError??
        connection.connect { outcome = .some($0) }
        LoopRunner.run(loop, timeout: 60) { outcome != nil }
        XCTAssertEqual(outcome??.kind, .connection)
        XCTAssertTrue(outcome??.message.contains("no-such-host.invalid") ?? false)
    }

    func testConnectingToAServerThatNeverAnswersTimesOut() {
        let silent = ListeningSocket()
        let connection = makeConnection(conninfo: "host=127.0.0.1 port=\(silent.port) user=postgres dbname=postgres")
        connection.connectTimeoutMs = 300
        var outcome: PGError??
        // The loop's clock, which its timers follow.
        let started = loop.nowMilliseconds
        connection.connect { outcome = .some($0) }
        LoopRunner.run(loop, timeout: 60) { outcome != nil }
        XCTAssertEqual(outcome??.kind, .connection)
        XCTAssertEqual(outcome??.message, "timed out after 300 ms")
        XCTAssertGreaterThanOrEqual(loop.nowMilliseconds - started, 300)
        XCTAssertEqual(connection.state, .idle)
    }

    func testATerminatedBackendFailsEverythingInFlightThenReportsTheDisconnect() {
        let connection = connect(pipelined: true)
        let pid = rows(connection, "SELECT pg_backend_pid()")?.string(0, 0)
        var events: [String] = []
        for sql in ["SELECT pg_sleep(30)", "SELECT 1", "SELECT 2"] {
            connection.query(sql) { result in
                events.append(result.pgError?.kind == .connection ? "connection error" : "unexpected \(result)")
            }
        }
        connection.onDisconnect = { error in events.append("disconnect \(error.kind)") }
        terminateBackend(pid)
        LoopRunner.run(loop) { events.count == 4 }
        XCTAssertEqual(events, ["connection error", "connection error", "connection error", "disconnect connection"])
        XCTAssertEqual(connection.state, .idle)
        XCTAssertEqual(connection.inFlight, 0)
        LoopRunner.run(loop, for: 0.1)
        XCTAssertEqual(events.count, 4, "each completion and the disconnect come once")

        var reconnected: PGError??
        connection.connect { reconnected = .some($0) }
        LoopRunner.run(loop) { reconnected != nil }
        XCTAssertEqual(connection.state, .ready)
        XCTAssertNotEqual(rows(connection, "SELECT pg_backend_pid()")?.string(0, 0), pid)
    }

    func testCloseCompletesOutstandingWorkWithClosedAndNothingFollows() throws {
        let connection = connect(pipelined: false)
        let pid = rows(connection, "SELECT pg_backend_pid()")?.string(0, 0)
        var kinds: [PGError.Kind?] = []
        var disconnected = false
        connection.onDisconnect = { _ in disconnected = true }
        // Short: the server notices the closed socket only once it is done.
        connection.query("SELECT pg_sleep(0.2)") { kinds.append($0.pgError?.kind) }
        connection.query("SELECT 1") { kinds.append($0.pgError?.kind) }
        connection.close()
        XCTAssertEqual(kinds, [.closed, .closed])
        XCTAssertEqual(connection.state, .closed)
        LoopRunner.run(loop, for: 0.1)
        XCTAssertEqual(kinds.count, 2)
        XCTAssertFalse(disconnected)

        var late: PGError.Kind?
        connection.query("SELECT 1") { late = $0.pgError?.kind }
        LoopRunner.run(loop) { late != nil }
        XCTAssertEqual(late, .closed)
        let pidValue = try XCTUnwrap(pid)
        eventually(60, "the backend session ends") {
            try self.database.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = \(pidValue)") == "0"
        }
    }

    /// Start-up does this: the migration connection is closed in its last
    /// completion, and the pools connect right away, on a socket that gets
    /// the descriptor number just freed.
    func testAConnectionOpenedInsideAnotherOnesLastCompletionConnects() {
        let first = connect()
        let second = makeConnection(name: "second")
        second.connectTimeoutMs = 3000
        var outcome: PGError??
        first.query("SELECT 1") { _ in
            first.close()
            second.connect { outcome = .some($0) }
        }
        LoopRunner.run(loop, timeout: 60) { outcome != nil }
        if case .some(.some(let error)) = outcome { XCTFail("\(error)") }
        XCTAssertEqual(second.state, .ready)
        XCTAssertEqual(rows(second, "SELECT 1")?.string(0, 0), "1")
    }

    func testServerNoticesGoToTheLogger() {
        let connection = connect()
        rows(connection, "CREATE TABLE IF NOT EXISTS t (a int); CREATE TABLE IF NOT EXISTS t (a int)", simple: true)
        let notice = logs.records.first { $0.message == "PostgreSQL notice" }
        XCTAssertEqual(notice?.level, .debug)
        XCTAssertEqual(notice?.metadata["sqlstate"], "42P07")
    }
}
