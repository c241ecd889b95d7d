import Foundation
@testable import TestSupport

/// A database as the original (Rust, diesel) server left it: its sixteen
/// migrations replayed in order (written here from the facts in
/// shared/spec/original-schema.md), each recorded in
/// `__diesel_schema_migrations` as diesel does, and rows in every table.
enum OriginalDatabase {
    /// (diesel version, SQL) in the order diesel applied them.
    static let migrations: [(String, String)] = [
        ("00000000000000", """
            CREATE OR REPLACE FUNCTION diesel_manage_updated_at(_tbl regclass) RETURNS void AS $$
            BEGIN
                EXECUTE format('CREATE TRIGGER set_updated_at BEFORE UPDATE ON %s
                                FOR EACH ROW EXECUTE PROCEDURE diesel_set_updated_at()', _tbl);
            END;
            $$ LANGUAGE plpgsql;
            CREATE OR REPLACE FUNCTION diesel_set_updated_at() RETURNS trigger AS $$
            BEGIN
                IF (NEW IS DISTINCT FROM OLD AND NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at) THEN
                    NEW.updated_at := current_timestamp;
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql;
            """),
        ("20190211181154", """
            CREATE TABLE tetcore_logs (
                id SERIAL PRIMARY KEY,
                node_ip VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL DEFAULT NOW(),
                logs JSONB NOT NULL);
            """),
        ("20190523134208", "CREATE INDEX tetcore_logs_node_ip_idx ON tetcore_logs (node_ip);"),
        ("20190523135015", "CREATE INDEX tetcore_logs_msg_type_idx ON tetcore_logs USING btree ((logs->>'msg'));"),
        ("20190816131907", """
            CREATE TABLE peer_connections (
                id SERIAL PRIMARY KEY,
                ip_addr VARCHAR NOT NULL,
                peer_id VARCHAR,
                created_at TIMESTAMP NOT NULL DEFAULT NOW());
            """),
        ("20190816132515", """
            TRUNCATE tetcore_logs;
            ALTER TABLE tetcore_logs DROP COLUMN node_ip;
            ALTER TABLE tetcore_logs ADD COLUMN peer_connection_id INTEGER NOT NULL REFERENCES peer_connections (id);
            """),
        ("20190822094016", "CREATE INDEX peer_connections_peer_id_idx ON peer_connections (peer_id);"),
        ("20190927125919", "CREATE INDEX tetcore_logs_created_at_msg_idx ON tetcore_logs USING btree (created_at, (logs->>'msg'));"),
        ("20190930144205", "ALTER TABLE peer_connections ADD COLUMN audit BOOLEAN NOT NULL DEFAULT FALSE;"),
        ("20191028055145", """
            CREATE TABLE host_systems (
                id SERIAL PRIMARY KEY,
                description VARCHAR NOT NULL,
                os VARCHAR NOT NULL,
                cpu_qty INTEGER NOT NULL,
                cpu_clock INTEGER NOT NULL,
                ram_mb INTEGER NOT NULL,
                disk_info VARCHAR NOT NULL);
            """),
        ("20191028064727", """
            CREATE TABLE benchmarks (
                id SERIAL PRIMARY KEY,
                ts_start TIMESTAMP NOT NULL,
                ts_end TIMESTAMP NOT NULL,
                description VARCHAR,
                chain_spec JSONB,
                benchmark_spec JSONB NOT NULL,
                host_system_id INTEGER NOT NULL REFERENCES host_systems (id),
                created_at TIMESTAMP NOT NULL DEFAULT (NOW() AT TIME ZONE 'utc'));
            """),
        ("20191211135359", "ALTER TABLE benchmarks ADD COLUMN peer_id VARCHAR NOT NULL DEFAULT 'NOT SET';"),
        ("20191213130241", """
            DROP TABLE benchmarks CASCADE;
            CREATE TABLE benchmarks (
                id SERIAL PRIMARY KEY,
                setup JSONB NOT NULL,
                created_at TIMESTAMP NOT NULL DEFAULT (NOW() AT TIME ZONE 'utc'));
            """),
        ("20191213161417", """
            CREATE TABLE benchmark_events (
                id SERIAL PRIMARY KEY,
                benchmark_id INTEGER NOT NULL REFERENCES benchmarks (id),
                name VARCHAR NOT NULL,
                phase VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL DEFAULT (NOW() AT TIME ZONE 'utc'));
            """),
        ("20200410113123", """
            ALTER TABLE peer_connections
                ADD COLUMN name VARCHAR, ADD COLUMN chain VARCHAR, ADD COLUMN version VARCHAR,
                ADD COLUMN authority BOOLEAN, ADD COLUMN startup_time BIGINT, ADD COLUMN implementation VARCHAR;
            """),
        ("20200908111742", """
            CREATE INDEX tetcore_logs_peerset_nodes_idx ON tetcore_logs
                USING gin ((logs->'state'->'peerset'->'nodes') jsonb_path_ops);
            """),
    ]

    /// Replays the first `count` migrations (all by default) on `database`.
    static func create(in database: TestDatabase, migrations count: Int = migrations.count) throws {
        try database.query("""
            CREATE TABLE __diesel_schema_migrations (
                version VARCHAR(50) PRIMARY KEY NOT NULL,
                run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
            """)
        for (version, sql) in migrations.prefix(count) {
            try database.query("BEGIN; \(sql)\n; INSERT INTO __diesel_schema_migrations (version) VALUES ('\(version)'); COMMIT;")
        }
    }

    /// The rows `fill` writes, per table.
    static let rowCounts = ["peer_connections": 4, "tetcore_logs": 600, "host_systems": 2, "benchmarks": 4, "benchmark_events": 6]

    /// Rows in every table, as the original wrote them: connections live
    /// and audit, old-style and wrapped messages over three days (one of
    /// them a network state), benchmarks whose setup says more or less.
    static func fill(_ database: TestDatabase) throws {
        try database.query("""
            INSERT INTO peer_connections (ip_addr, peer_id, created_at, audit, name, chain, version, authority, startup_time, implementation) VALUES
              ('10.0.0.1:30333', '12D3KooWOriginalNodeA', '2020-09-01 10:00:00', false, 'node-a', 'Tetcore', '2.0.0', true, 1598954400000, 'tetcore-node'),
              ('10.0.0.2:30333', '12D3KooWOriginalNodeB', '2020-09-01 10:05:00', true, 'node-b', 'Tetcore', '2.0.0', false, 1598954700000, 'tetcore-node'),
              ('10.0.0.3:30333', NULL, '2020-09-02 08:00:00', false, NULL, NULL, NULL, NULL, NULL, NULL),
              ('10.0.0.1:30333', '12D3KooWOriginalNodeA', '2020-09-03 09:00:00', false, 'node-a', 'Tetcore', '2.0.1', true, 1599123600000, 'tetcore-node');
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id)
            SELECT timestamp '2020-09-01 10:00:00' + n * interval '7 minutes',
                   CASE n % 4
                     WHEN 0 THEN jsonb_build_object('msg', 'system.interval', 'ts', '2020-09-01T10:00:00.000000Z', 'level', 'INFO', 'peers', n % 25, 'bandwidth_download', n * 10, 'bandwidth_upload', n * 7)
                     WHEN 1 THEN jsonb_build_object('msg', 'block.import', 'ts', '2020-09-01T10:00:00.000000Z', 'level', 'INFO', 'height', n, 'best', md5(n::text))
                     WHEN 2 THEN jsonb_build_object('msg', 'tracing.profiling', 'ts', '2020-09-01T10:00:00.000000Z', 'level', 'INFO',
                                                    'target', CASE WHEN n % 8 = 2 THEN 'pallet_babe' ELSE 'pallet_grandpa' END, 'name', 'on_initialize', 'time', 1000 + n)
                     ELSE jsonb_build_object('msg', 'system.network_state', 'ts', '2020-09-01T10:00:00.000000Z', 'level', 'INFO',
                                             'state', jsonb_build_object('peerId', '12D3KooWOriginalNodeA', 'peerset',
                                                      jsonb_build_object('nodes', jsonb_build_object('12D3KooWOriginalNodeB', jsonb_build_object('reputation', -n, 'connected', true)))))
                   END,
                   1 + (n / 4) % 4
            FROM generate_series(0, 599) AS n;
            INSERT INTO host_systems (description, os, cpu_qty, cpu_clock, ram_mb, disk_info) VALUES
              ('bench box', 'Debian 10', 8, 3200, 32768, 'NVMe 1TB'),
              ('small box', 'Ubuntu 18.04', 2, 2400, 4096, 'SSD 120GB');
            INSERT INTO benchmarks (setup, created_at) VALUES
              ('{"tetcore": {"peerId": "12D3KooWOriginalNodeA", "execution": "wasm"}, "description": "import 1000 blocks", "ts_start": "2020-09-01T10:00:00", "ts_end": "2020-09-01T20:00:00", "host_system_id": 1, "chain_spec": {"id": "dev"}, "benchmark_spec": {"blocks": 1000}}', '2020-09-01 09:59:00'),
              ('{"substrate": {"peerId": "12D3KooWOriginalNodeB"}, "ts_start": "2020-09-02T10:00:00+02:00", "host_system_id": 77}', '2020-09-02 07:00:00'),
              ('{"note": "no README fields at all", "ts_start": "2019-02-30T10:00:00"}', '2020-09-02 09:00:00'),
              ('{"peer_id": "12D3KooWOriginalNodeA", "tetcore": {"peerId": "ignored: peer_id wins"}, "description": 42}', '2020-09-03 09:30:00');
            INSERT INTO benchmark_events (benchmark_id, name, phase, created_at) VALUES
              (1, 'import', 'start', '2020-09-01 10:00:00'), (1, 'import', 'end', '2020-09-01 20:00:00'),
              (2, 'sync', 'start', '2020-09-02 08:00:00'), (2, 'sync', 'end', '2020-09-02 09:00:00'),
              (4, 'warm-up', 'start', '2020-09-03 09:31:00'), (4, 'warm-up', 'end', '2020-09-03 09:41:00');
            """)
    }
}
