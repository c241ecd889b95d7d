@testable import AnalyticsServer
import Foundation
@testable import PostgresClient
@testable import TestSupport
import XCTest

/// Migrations 0010 (lz4 for tetcore_logs.logs), 0011 (the per-peer
/// reputation walk), 0012 (peerset hashes) and 0013 (their index): rows
/// stored before them stay as they were, and /reputation/{peer_id} answers
/// exactly as it did, on the same data, whether its rows have hashes or
/// not and whichever read answers it.
final class ReputationStorageTests: StorageTestCase {
    /// /reputation/{peer_id}'s statement before 0011, kept verbatim to
    /// compare answers with.
    private static let peerSQLBefore = """
        SELECT coalesce(json_agg(json_build_object(
                   'reporting_peer', pc.peer_id, 'reputation', CASE jsonb_typeof(s.entry->'reputation') WHEN 'number' THEN s.entry->'reputation' END,
                   'connected', CASE jsonb_typeof(s.entry->'connected') WHEN 'boolean' THEN s.entry->'connected' END,
                   'ts', to_char(s.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.US'))
                   ORDER BY s.created_at DESC, s.id DESC), '[]')::text
        FROM (SELECT l.id, l.created_at, l.peer_connection_id, (CASE WHEN jsonb_typeof(l.logs->'state'->'peerset'->'nodes') = 'object'
             THEN l.logs->'state'->'peerset'->'nodes' ELSE '{}'::jsonb END)->$1::text AS entry
              FROM (SELECT l.id, l.created_at, l.peer_connection_id, l.logs
                    FROM tetcore_logs l
                    WHERE l.logs->>'msg' = 'system.network_state'
                      AND ($2::timestamp IS NULL OR l.created_at > $2::timestamp)
                      AND l.created_at < coalesce($3::timestamp, now() AT TIME ZONE 'utc')
                    ORDER BY l.created_at DESC
                    OFFSET 0) l
              WHERE (CASE WHEN jsonb_typeof(l.logs->'state'->'peerset'->'nodes') = 'object'
             THEN l.logs->'state'->'peerset'->'nodes' ELSE '{}'::jsonb END) ? $1::text
              LIMIT $4) s
        JOIN peer_connections pc ON pc.id = s.peer_connection_id
        """

    /// The migrations up to and including `last` (a 4-digit prefix).
    private func migrate(upTo last: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.repositoryMigrations) where file.prefix(4) <= last {
            try FileManager.default.copyItem(atPath: Self.repositoryMigrations + "/" + file,
                                             toPath: directory.appendingPathComponent(file).path)
        }
        try migrate(directory.path)
    }

    /// Network states of four reporters over two days, with peersets that
    /// name P1 or not, entries of every shape a node may send, a peerset
    /// that is not an object, one big enough to be compressed, and rows of
    /// other messages; some at the same instant.
    private func fill() throws {
        var values: [String] = []
        for n in 0..<120 {
            let reporter = 1 + n % 4
            let time = "'2026-11-01 00:00:00'::timestamp + interval '\(n * 1211) seconds'"
            let peerset: String
            switch n % 6 {
            case 0: peerset = #"{"P1":{"connected":true,"reputation":\#(n)},"P2":{"connected":false,"reputation":-\#(n)}}"#
            case 1: peerset = #"{"P2":{"connected":true,"reputation":1}}"#
            case 2: peerset = #"{"P1":{"connected":"yes","reputation":"high"},"P3":{}}"#
            case 3: peerset = #"["P1"]"#
            case 4: peerset = "{" + (0..<400).map { #""Q\#($0)":{"connected":false,"reputation":\#($0)}"# }.joined(separator: ",")
                + #","P1":{"connected":false,"reputation":0.5}}"#
            default: peerset = #"{"P1":{"reputation":-2147483648}}"#
            }
            values.append("(\(time), '{\"msg\":\"system.network_state\",\"state\":{\"peerset\":{\"nodes\":\(peerset)}}}', \(reporter))")
            values.append("(\(time), '{\"msg\":\"system.interval\",\"peers\":\(n)}', \(reporter))")
        }
        try database.query("""
            INSERT INTO peer_connections (id, ip_addr, peer_id) VALUES
              (1, '10.0.0.1:1', 'R1'), (2, '10.0.0.2:1', 'R2'), (3, '10.0.0.3:1', 'R3'), (4, '10.0.0.4:1', NULL);
            SELECT tetcore_create_log_partitions(2, '2026-11-01');
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id) VALUES \(values.joined(separator: ",\n"));
            """)
    }

    /// The API's statement with 0013's walk alone in place of the function
    /// that chooses between it and the hashes' index.
    private static let walkSQL = ReputationAPI.peerSQL.replacingOccurrences(
        of: "tetcore_peer_reputation_entries($1::text, $2::timestamp, $3::timestamp, $4::bigint)",
        with: "tetcore_peer_reputation_walk($1::text, $2::timestamp, coalesce($3::timestamp, now() AT TIME ZONE 'utc'), $4::bigint, NULL)")

    /// Answers of `sql` for a set of peers, windows and limits.
    private func answers(_ sql: String, peers: [String] = ["P1", "P2", "P3", "Q7", "nobody"]) throws -> [String] {
        let connection = connect()
        var out: [String] = []
        for peer in peers {
            for (start, end) in [(nil, nil), ("2026-11-01 12:00:00", nil), (nil, "2026-11-02 01:00:00"),
                                 ("2026-11-01 06:00:00", "2026-11-01 18:00:00")] as [(String?, String?)] {
                for limit: Int64 in [1, 3, 1000] {
                    let result = try XCTUnwrap(rows(connection, sql, [.text(peer), .text(start), .text(end), .int64(limit)]))
                    out.append("\(peer) \(start ?? "-") \(end ?? "-") \(limit): \(result.string(0, 0) ?? "NULL")")
                }
            }
        }
        return out
    }

    func testReputationAnswersAreTheSameBeforeAndAfterTheMigrations() throws {
        try migrate(upTo: "0004")
        try fill()
        let before = try answers(Self.peerSQLBefore)
        XCTAssertTrue(before.contains { $0.hasPrefix("P1 - - 1000: [{") }, "the data answers something")

        try migrate(Self.repositoryMigrations)
        XCTAssertEqual(try answers(ReputationAPI.peerSQL), before, "the API's statement, on the same rows")
        XCTAssertEqual(try answers(Self.peerSQLBefore), before, "the old statement still reads the rows")

        // The same rows stored again after the migrations, as the writer
        // stores them: lz4, and the peerset hashes of network states.
        try database.query("""
            UPDATE tetcore_logs SET logs = logs::text::jsonb,
              peerset_hashes = CASE WHEN logs->>'msg' = 'system.network_state' THEN tetcore_peerset_hashes(logs) END
            """)
        XCTAssertEqual(try database.scalar("SELECT DISTINCT pg_column_compression(logs) FROM tetcore_logs WHERE pg_column_compression(logs) IS NOT NULL"), "lz4")
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM tetcore_logs WHERE peerset_hashes IS NOT NULL"), "120")
        XCTAssertEqual(try answers(ReputationAPI.peerSQL), before, "rows stored with lz4 and hashes")
        // The walk alone, and a window where some rows have hashes and some
        // do not (the walk is chosen for it).
        XCTAssertEqual(try answers(Self.walkSQL), before, "the walk")
        try database.query("UPDATE tetcore_logs SET peerset_hashes = NULL WHERE id % 5 = 0")
        XCTAssertEqual(try answers(ReputationAPI.peerSQL), before, "some rows without hashes")
        try database.query("UPDATE tetcore_logs SET peerset_hashes = tetcore_peerset_hashes(logs) WHERE logs->>'msg' = 'system.network_state'")

        // A hash is only a filter: a row whose hashes name the peer by
        // chance is still answered from its JSON (here: not at all).
        try database.query("UPDATE tetcore_logs SET peerset_hashes = peerset_hashes || hashtext('nobody') WHERE peerset_hashes IS NOT NULL")
        XCTAssertEqual(try answers(ReputationAPI.peerSQL), before, "hashes that match by chance")
        // And a row whose hashes lack the peer is not read at all.
        try database.query("UPDATE tetcore_logs SET peerset_hashes = '{}' WHERE peerset_hashes IS NOT NULL")
        XCTAssertTrue(try answers(ReputationAPI.peerSQL).allSatisfy { $0.hasSuffix(": []") })
    }

    /// fill()'s rows and 2,600 more network states, all with hashes: 1,500
    /// naming P9 over both days (the newest rows), 1,100 naming P8 in the
    /// first hours of the first day only.
    private func fillMore() throws {
        try fill()
        try database.query("""
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id)
            SELECT '2026-11-01 00:00:30'::timestamp + make_interval(secs => n * 97),
                   jsonb_build_object('msg', 'system.network_state', 'state', jsonb_build_object('peerset', jsonb_build_object('nodes',
                     jsonb_build_object('P9', jsonb_build_object('reputation', n, 'connected', n % 2 = 0))))),
                   1 + n % 3
            FROM generate_series(1, 1500) n;
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id)
            SELECT '2026-11-01 00:00:10'::timestamp + make_interval(secs => n * 13),
                   jsonb_build_object('msg', 'system.network_state', 'state', jsonb_build_object('peerset', jsonb_build_object('nodes',
                     jsonb_build_object('P8', jsonb_build_object('reputation', -n))))),
                   2
            FROM generate_series(1, 1100) n;
            UPDATE tetcore_logs SET peerset_hashes = tetcore_peerset_hashes(logs) WHERE logs->>'msg' = 'system.network_state';
            """)
    }

    /// Rows of tetcore_logs that `sql` fetched, every partition's.
    private func rowsFetched(by sql: String) throws -> Int? {
        Int(try database.scalar(sql + "; SELECT sum(idx_tup_fetch + seq_tup_read) FROM pg_stat_xact_user_tables WHERE relname LIKE 'tetcore_logs%'") ?? "")
    }

    func testAPeerThatNoHashNamesIsAnsweredWithoutReadingEveryNetworkState() throws {
        try migrate(Self.repositoryMigrations)
        try fillMore()
        // The walk of the newest network states (8 for each row asked
        // for), then the hashes' index, where the walk would read all 2,720.
        XCTAssertEqual(try rowsFetched(by: "SELECT count(*) FROM tetcore_peer_reputation_walk('nobody', NULL, now()::timestamp, 10, NULL)"), 2_720)
        let absent = try XCTUnwrap(try rowsFetched(by: "SELECT count(*) FROM tetcore_peer_reputation_entries('nobody', NULL, NULL, 10)"))
        XCTAssertLessThan(absent, 200, "80 network states walked and counted again")

        // A network state inserted without hashes (by SQL that does not set
        // them) can name any peer: where the window holds one, its JSON is read.
        try database.query("""
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id) VALUES
              ('2026-11-01 06:00', '{"msg":"system.network_state","state":{"peerset":{"nodes":{"nobody":{"reputation":7}}}}}', 1)
            """)
        let answer = "SELECT json_agg(entry) FROM tetcore_peer_reputation_entries('nobody', $1, NULL, 10)"
        XCTAssertEqual(rows(connect(), answer, [.text(nil)])?.string(0, 0), #"[{"reputation": 7}]"#)
        XCTAssertEqual(rows(connect(), answer, [.text("2026-11-01 06:00:00")])?.string(0, 0), nil, "a window after it")
        XCTAssertLessThan(try XCTUnwrap(try rowsFetched(by: "SELECT count(*) FROM tetcore_peer_reputation_entries('nobody', '2026-11-01 06:00', NULL, 10)")),
                          200, "in that window, the hashes' index again")
    }

    func testEveryReadGivesTheSameAnswers() throws {
        try migrate(Self.repositoryMigrations)
        try fillMore()
        // P9: the newest rows, found by the first walk; P8: more than the
        // cap for few rows asked, beyond the first walk, so the walk goes
        // on; P1 and Q7: beyond the first walk, few, from the hashes' index;
        // nobody: none.
        let peers = ["P9", "P8", "P1", "Q7", "nobody"]
        let expected = try answers(Self.peerSQLBefore, peers: peers)
        XCTAssertTrue(expected.contains { $0.hasPrefix("P8 - - 1: [{") })
        XCTAssertEqual(try answers(ReputationAPI.peerSQL, peers: peers), expected)
        XCTAssertEqual(try answers(Self.walkSQL, peers: peers), expected)
    }

    func testEveryPartitionHasTheHashIndexWithItsPendingListLimit() throws {
        try migrate(upTo: "0004")
        try database.query("SELECT tetcore_create_log_partitions(0, '2026-11-01')")
        try migrate(Self.repositoryMigrations)
        try database.query("SELECT tetcore_create_log_partitions(0, '2026-11-05')")
        // Partitions made before 0013 and after it, the audit and default ones.
        XCTAssertEqual(try database.query("""
            SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'tetcore_logs_peerset_hashes_idx'::regclass ORDER BY 1
            """).map { "\($0[0] ?? "") \($0[1] ?? "")" }, [
                "tetcore_logs_audit_peerset_hashes_idx gin_pending_list_limit=65536",
                "tetcore_logs_live_20261101_peerset_hashes_idx gin_pending_list_limit=65536",
                "tetcore_logs_live_20261105_peerset_hashes_idx gin_pending_list_limit=65536",
                "tetcore_logs_live_default_peerset_hashes_idx gin_pending_list_limit=65536",
            ])
    }

    func testTheWritersStatementStoresTheHashesOfNetworkStatesOnly() throws {
        try migrate(Self.repositoryMigrations)
        let connection = connect()
        var batch = MessageBatch(id: "inst-1", audit: false, createdAtMs: 0)
        for document in [#"{"msg":"system.network_state","state":{"peerset":{"nodes":{"P1":{},"P2":{"reputation":1}}}}}"#,
                         #"{"msg":"system.network_state","state":{"peerset":{"nodes":[1]}}}"#,
                         #"{"msg":"system.network_state"}"#,
                         #"{"msg":"system.interval","state":{"peerset":{"nodes":{"P1":{}}}}}"#] {
            Array(document.utf8).withUnsafeBytes {
                batch.append(peerConnectionID: 1, createdAtUnixMicros: 1_793_536_496_789_012, document: $0)
            }
        }
        batch.seal()
        rows(connection, BatchWriter.insertStatement, [.text(batch.id)] + batch.parameters())
        XCTAssertEqual(try database.query("SELECT coalesce(peerset_hashes::text, 'NULL') FROM tetcore_logs ORDER BY id").map { $0[0] }, [
            try database.scalar("SELECT ARRAY[hashtext('P1'), hashtext('P2')]::text"), "{}", "{}", "NULL",
        ])
    }

    func testStoredRowsAreKeptIntactAndNewOnesUseLZ4() throws {
        try migrate(upTo: "0004")
        try fill()
        let big = "'{\"msg\":\"system.network_state\",\"state\":{\"peerset\":{\"nodes\":' || (SELECT jsonb_object_agg('Peer' || n, jsonb_build_object('reputation', n)) FROM generate_series(1, 2000) n)::text || '}}}'"
        try database.query("INSERT INTO tetcore_logs (created_at, logs, peer_connection_id) VALUES ('2026-11-01 01:00', (\(big))::jsonb, 1)")
        let digest = "SELECT count(*), md5(string_agg(id || tableoid::regclass::text || created_at || logs::text || peer_connection_id || audit, ',' ORDER BY id)) FROM tetcore_logs"
        let stored = try database.query(digest)
        XCTAssertEqual(try database.scalar("SELECT DISTINCT pg_column_compression(logs) FROM tetcore_logs WHERE pg_column_compression(logs) IS NOT NULL"), "pglz")

        try migrate(Self.repositoryMigrations)
        XCTAssertEqual(try database.query(digest), stored, "every row, its partition and its value as before")
        XCTAssertEqual(try database.scalar("SELECT DISTINCT pg_column_compression(logs) FROM tetcore_logs WHERE pg_column_compression(logs) IS NOT NULL"),
                       "pglz", "stored values are not rewritten")
        XCTAssertEqual(try database.query("""
            SELECT DISTINCT attcompression FROM pg_attribute WHERE attname = 'logs'
              AND attrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'tetcore_logs'::regclass UNION SELECT 'tetcore_logs'::regclass)
            """), [["l"]], "the parent and every existing partition")

        // New rows, in an existing partition and in one made after the migration.
        try database.query("""
            SELECT tetcore_create_log_partitions(0, '2026-11-05');
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id) VALUES
              ('2026-11-01 02:00', (\(big))::jsonb, 1), ('2026-11-05 02:00', (\(big))::jsonb, 1);
            """)
        XCTAssertEqual(try database.query("""
            SELECT tableoid::regclass, pg_column_compression(logs) FROM tetcore_logs WHERE created_at IN ('2026-11-01 02:00', '2026-11-05 02:00') ORDER BY 1
            """), [["tetcore_logs_live_20261101", "lz4"], ["tetcore_logs_live_20261105", "lz4"]])
        XCTAssertEqual(try database.scalar("SELECT count(DISTINCT logs) FROM tetcore_logs WHERE created_at IN ('2026-11-01 01:00', '2026-11-01 02:00', '2026-11-05 02:00')"), "1",
                       "the same value, whichever method compressed it")
    }
}
