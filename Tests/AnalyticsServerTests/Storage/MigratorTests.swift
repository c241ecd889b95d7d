import AnalyticsServer
import Foundation
@testable import TestSupport
import XCTest
@testable import PostgresClient

final class MigratorTests: StorageTestCase {

    /// A temporary directory holding `files` (name → SQL), removed at teardown.
    private func migrationDirectory(_ files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        for (name, sql) in files {
            try sql.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory.path
    }

    private func run(_ migrator: Migrator, on connection: PGConnection) -> Result<[String], PGError>? {
        var outcome: Result<[String], PGError>?
        migrator.run(on: connection) { outcome = $0 }
        LoopRunner.run(loop) { outcome != nil }
        return outcome
    }

    func testAFreshDatabaseGetsTheInitialSchemaAndASecondRunDoesNothing() throws {
        let migrator = try Migrator(directory: MigratorTests.repositoryMigrations, logger: logger)
        let connection = connect()
        let shipped = try FileManager.default.contentsOfDirectory(atPath: MigratorTests.repositoryMigrations)
            .filter { $0.hasSuffix(".sql") }.map { String($0.dropLast(4)) }.sorted()
        XCTAssertEqual(try run(migrator, on: connection)?.get(), shipped)
        let tables = try database.query("""
            SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name
            """).compactMap { $0[0] }
        for table in ["benchmark_events", "benchmarks", "host_systems", "ingest_batches", "peer_connections",
                      "schema_migrations", "tetcore_logs", "tetcore_logs_audit", "tetcore_logs_live_default"] {
            XCTAssertTrue(tables.contains(table), table)
        }
        XCTAssertEqual(try database.scalar("""
            SELECT data_type FROM information_schema.columns WHERE table_name = 'tetcore_logs' AND column_name = 'logs'
            """), "jsonb")

        XCTAssertEqual(try run(migrator, on: connection)?.get(), [])
        XCTAssertEqual(try database.scalar("SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations"),
                       shipped.joined(separator: ","))
    }

    func testMigratorsRacingOnTwoConnectionsApplyEachVersionOnce() throws {
        let directory = try migrationDirectory([
            // The sleep holds the lock long enough for the other to wait on it.
            "0001_first.sql": "CREATE TABLE first (id int);\nSELECT pg_sleep(0.3);",
            "0002_second.sql": "CREATE TABLE second (id int); -- no newline at the end",
        ])
        let migrator = try Migrator(directory: directory, logger: logger)
        let one = connect(), two = connect()
        var outcomes: [Result<[String], PGError>] = []
        migrator.run(on: one) { outcomes.append($0) }
        migrator.run(on: two) { outcomes.append($0) }
        LoopRunner.run(loop) { outcomes.count == 2 }
        let applied = outcomes.compactMap { try? $0.get() }
        XCTAssertEqual(applied.count, 2, "both succeed: \(outcomes)")
        XCTAssertEqual(applied.map(\.count).sorted(), [0, 2])
        XCTAssertEqual(applied.flatMap { $0 }, ["0001_first", "0002_second"])
        XCTAssertEqual(try database.scalar("SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations"),
                       "0001_first,0002_second")
    }

    func testAFailingMigrationLeavesNothingBehindAndReportsTheError() throws {
        let directory = try migrationDirectory([
            "0001_good.sql": "CREATE TABLE good (id int);",
            "0002_broken.sql": "CREATE TABLE half_done (id int);\nINSERT INTO half_done VALUES (1 / 0);",
            "0003_never.sql": "CREATE TABLE never (id int);",
        ])
        let migrator = try Migrator(directory: directory, logger: logger)
        let connection = connect()
        let error = run(migrator, on: connection)?.pgError
        XCTAssertEqual(error?.kind, .query)
        XCTAssertEqual(error?.sqlState, "22012")
        XCTAssertEqual(try database.scalar("SELECT string_agg(version, ',') FROM schema_migrations"), "0001_good")
        XCTAssertEqual(try database.scalar("SELECT to_regclass('good') IS NOT NULL"), "t")
        XCTAssertEqual(try database.scalar("SELECT to_regclass('half_done') IS NULL AND to_regclass('never') IS NULL"), "t")
        XCTAssertEqual(try database.scalar("""
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """), "0", "the lock is released")
        XCTAssertEqual(rows(connection, "SELECT 1")?.string(0, 0), "1", "no transaction is left open")
    }

    func testTheDirectoryIsValidatedUpFront() throws {
        XCTAssertThrowsError(try Migrator(directory: "/nonexistent/migrations", logger: logger))
        XCTAssertThrowsError(try Migrator(directory: try migrationDirectory([:]), logger: logger))
        XCTAssertThrowsError(try Migrator(directory: try migrationDirectory(["1_short.sql": ""]), logger: logger))
        XCTAssertThrowsError(try Migrator(directory: try migrationDirectory(["0001_Upper.sql": ""]), logger: logger))
        XCTAssertThrowsError(try Migrator(directory: try migrationDirectory(["0001_a.sql": "", "0001_b.sql": ""]),
                                          logger: logger))
        let migrator = try Migrator(directory: try migrationDirectory([
            "0002_b.sql": "SELECT 2", "0001_a.sql": "SELECT 1", "README.md": "not a migration",
        ]), logger: logger)
        XCTAssertEqual(migrator.migrations.map(\.version), ["0001_a", "0002_b"])
    }
}
