import AnalyticsServer
import Foundation
import XCTest

/// tetcore_logs as a partitioned table (Migrations/0003): an existing
/// database keeps its rows, rows land in their day's partition, audit rows
/// apart, and expiry drops whole days.
final class PartitionedLogsTests: StorageTestCase {
    private static let repositoryMigrations = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Migrations").path

    private func migrate(_ directory: String) throws {
        let migrator = try Migrator(directory: directory, logger: logger)
        var outcome: Result<[String], PGError>?
        migrator.run(on: connect()) { outcome = $0 }
        LoopRunner.run(loop) { outcome != nil }
        _ = try XCTUnwrap(outcome).get()
    }

    private func rows(_ sql: String) throws -> [String] {
        try database.query(sql).map { $0.map { $0 ?? "NULL" }.joined(separator: "|") }
    }

    func testAnUnpartitionedDatabaseIsMigratedWithEveryRowInItsPlace() throws {
        // The schema as it was before partitioning, with rows of two days.
        let initialOnly = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: initialOnly, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: initialOnly) }
        try FileManager.default.copyItem(atPath: Self.repositoryMigrations + "/0001_initial_schema.sql",
                                         toPath: initialOnly.appendingPathComponent("0001_initial_schema.sql").path)
        try migrate(initialOnly.path)
        try database.query("""
            INSERT INTO peer_connections (id, ip_addr, audit) VALUES (1, '10.0.0.1:1', false), (2, '10.0.0.2:2', true);
            INSERT INTO tetcore_logs (id, created_at, logs, peer_connection_id) VALUES
              (10, '2026-11-01 23:59:59.999999', '{"msg":"a"}', 1),
              (11, '2026-11-02 00:00:00', '{"msg":"b"}', 1),
              (12, '2026-11-01 12:00:00', '{"msg":"c"}', 2);
            SELECT setval('tetcore_logs_id_seq', 12);
            """)

        try migrate(Self.repositoryMigrations)
        XCTAssertEqual(try rows("SELECT tableoid::regclass, id, logs->>'msg', audit FROM tetcore_logs ORDER BY id"), [
            "tetcore_logs_live_20261101|10|a|f",
            "tetcore_logs_live_20261102|11|b|f",
            "tetcore_logs_audit|12|c|t",
        ])
        XCTAssertEqual(try database.scalar("SELECT nextval('tetcore_logs_id_seq')"), "13", "ids keep counting")
        let indexes = try rows("SELECT indexname FROM pg_indexes WHERE tablename = 'tetcore_logs' ORDER BY 1")
        // The old table's indexes, 0002's partial one included.
        XCTAssertEqual(indexes, ["tetcore_logs_connection_time_idx", "tetcore_logs_created_at_idx", "tetcore_logs_network_state_idx"])
    }

    func testPartitionsAreMadeAheadOnceAndADayWithDefaultRowsIsLeftAlone() throws {
        try migrate(Self.repositoryMigrations)
        XCTAssertEqual(try database.scalar("SELECT tetcore_create_log_partitions(3, '2030-01-01')"), "4")
        XCTAssertEqual(try database.scalar("SELECT tetcore_create_log_partitions(3, '2030-01-01')"), "0", "already there")
        try database.query("INSERT INTO tetcore_logs (created_at, logs, peer_connection_id) VALUES ('2031-05-05 10:00', '{}', 1)")
        XCTAssertEqual(try database.scalar("SELECT tableoid::regclass FROM tetcore_logs"), "tetcore_logs_live_default")
        XCTAssertEqual(try database.scalar("SELECT tetcore_create_log_partitions(0, '2031-05-05')"), "0",
                       "a partition would overlap the default partition's row")
        XCTAssertEqual(try database.scalar("SELECT tetcore_create_log_partitions(0, '2031-05-06')"), "1")
    }

    func testExpiredDaysAreDroppedWholeAndAuditRowsStay() throws {
        try migrate(Self.repositoryMigrations)
        try database.query("""
            SELECT tetcore_create_log_partitions(1, ((now() AT TIME ZONE 'utc') - interval '10 days')::date);
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id, audit)
            SELECT (now() AT TIME ZONE 'utc') - interval '10 days' + n * interval '1 second', '{}', 1, n % 10 = 0
            FROM generate_series(1, 1000) n;
            """)
        let result = try rows("SELECT held, partitions, rows_dropped FROM tetcore_drop_expired_log_partitions(24)")
        XCTAssertEqual(result, ["t|2|900"], "two old days dropped (one empty), the 900 live rows counted")
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM tetcore_logs"), "100", "audit rows never expire")
        XCTAssertEqual(try database.scalar("""
            SELECT count(*) FROM pg_class WHERE relname LIKE 'tetcore_logs_live_2%' AND relname < 'tetcore_logs_live_' || to_char(now() - interval '8 days', 'YYYYMMDD')
            """), "0")
    }
}
