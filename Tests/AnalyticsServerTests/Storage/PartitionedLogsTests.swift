@testable import AnalyticsServer
import Foundation
@testable import TestSupport
import XCTest
@testable import PostgresClient

/// tetcore_logs as a partitioned table (Migrations/0003, flattened to one
/// level by 0004): an existing database keeps its rows, rows land in their
/// day's partition, audit rows apart, and expiry drops whole days.
final class PartitionedLogsTests: StorageTestCase {
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
        // The old table's indexes, 0002's partial one included (with 0013's
        // second key), and 0013's on the peerset hashes.
        XCTAssertEqual(indexes, ["tetcore_logs_connection_time_idx", "tetcore_logs_created_at_idx", "tetcore_logs_network_state_idx",
                                 "tetcore_logs_peerset_hashes_idx"])
        // One level of partitions (what Citus can distribute), each with
        // the parent's four indexes.
        XCTAssertEqual(try rows("SELECT partrelid::regclass, partstrat, partnatts FROM pg_partitioned_table "
                                + "WHERE partrelid::regclass::text LIKE 'tetcore_logs%'"), ["tetcore_logs|r|2"])
        XCTAssertEqual(try database.scalar("""
            SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
            JOIN pg_class p ON p.oid = x.indrelid WHERE p.relname LIKE 'tetcore_logs_%'
            """), "16", "4 indexes on each of the 4 partitions (2 days, audit, default)")
    }

    func testADatabaseOfTheTwoLevelLayoutKeepsItsRowsAndTheirPartitions() throws {
        let upTo0003 = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: upTo0003, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: upTo0003) }
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.repositoryMigrations) where file < "0004" {
            try FileManager.default.copyItem(atPath: Self.repositoryMigrations + "/" + file,
                                             toPath: upTo0003.appendingPathComponent(file).path)
        }
        try migrate(upTo0003.path)
        try database.query("""
            SELECT tetcore_create_log_partitions(1, '2026-11-01');
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id, audit) VALUES
              ('2026-11-01 10:00', '{"msg":"a"}', 1, false), ('2026-11-02 10:00', '{"msg":"b"}', 1, false),
              ('2026-11-01 11:00', '{"msg":"c"}', 2, true), ('2031-01-01 00:00', '{"msg":"d"}', 1, false);
            """)
        try migrate(Self.repositoryMigrations)
        XCTAssertEqual(try rows("SELECT tableoid::regclass, logs->>'msg' FROM tetcore_logs ORDER BY 2"), [
            "tetcore_logs_live_20261101|a", "tetcore_logs_live_20261102|b", "tetcore_logs_audit|c", "tetcore_logs_live_default|d",
        ])
        try database.query("""
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id, audit) VALUES
              ('2026-11-02 12:00', '{"msg":"e"}', 1, false), ('2026-11-02 12:00', '{"msg":"f"}', 2, true)
            """)
        XCTAssertEqual(try rows("SELECT tableoid::regclass FROM tetcore_logs WHERE logs->>'msg' IN ('e', 'f') ORDER BY logs->>'msg'"),
                       ["tetcore_logs_live_20261102", "tetcore_logs_audit"], "new rows find the attached partitions")
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

    func testWhatPartitionsLeaveIsDeletedInChunksOfTheOldestRowsTiesIncluded() throws {
        try migrate(Self.repositoryMigrations)
        // 25,000 expired live rows, one a millisecond, except that rows
        // 9,999 to 10,002 share an instant; fresh rows and audit rows stay.
        try database.query("""
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id, audit)
            SELECT (now() AT TIME ZONE 'utc') - interval '3 hours'
                   + CASE WHEN n BETWEEN 9999 AND 10002 THEN 9999 ELSE n END * interval '1 millisecond', '{}', 1, false
            FROM generate_series(1, 25000) n;
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id, audit)
            SELECT (now() AT TIME ZONE 'utc') - interval '3 hours', '{}', 2, true FROM generate_series(1, 10);
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id, audit)
            SELECT (now() AT TIME ZONE 'utc'), '{}', 1, false FROM generate_series(1, 10);
            """)
        let chunk = ExpiryPurger.purgeLogsStatement.replacingOccurrences(of: "$1", with: "1")
            .replacingOccurrences(of: "$2", with: "\(ExpiryPurger.chunkRows)")
        XCTAssertEqual(try rows(chunk), ["t|10002"], "up to the 10,000th oldest, with the rows of the same instant")
        XCTAssertEqual(try rows(chunk), ["t|10000"])
        XCTAssertEqual(try rows(chunk), ["t|4998"], "fewer than a chunk left: all of them")
        XCTAssertEqual(try rows(chunk), ["t|0"])
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM tetcore_logs"), "20", "audit and fresh rows stay")
    }
}
