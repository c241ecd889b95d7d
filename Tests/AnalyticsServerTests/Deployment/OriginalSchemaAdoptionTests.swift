import Foundation
@testable import TestSupport
import XCTest

/// `tetcore-analytics migrate` on a database the original server made
/// (OriginalDatabase): adopted in place with every row, refused by name
/// when it holds what the original did not make, unchanged when
/// interrupted, and served afterwards.
final class OriginalSchemaAdoptionTests: XCTestCase {
    private var database: TestDatabase!

    override func setUpWithError() throws {
        database = try TestDatabase()
    }

    override func tearDown() {
        database?.drop()
    }

    private func makeOriginal(migrations count: Int = OriginalDatabase.migrations.count) throws {
        try OriginalDatabase.create(in: database, migrations: count)
        if count == OriginalDatabase.migrations.count { try OriginalDatabase.fill(database) }
    }

    private func migrate(_ url: String? = nil) throws -> ChildProcess.Outcome {
        try ChildProcess.run(ServerProcess.executable, ["migrate"],
                             environment: ["DATABASE_URL": url ?? database.url, "PATH": "/usr/bin:/bin", "LOG_LEVEL": "info"],
                             directory: ServerProcess.repositoryRoot)
    }

    /// Every row of the data tables, as text, in id order.
    private func snapshot() throws -> [String: [[String?]]] {
        [
            "tetcore_logs": try database.query("SELECT id::text, created_at::text, logs::text, peer_connection_id::text FROM tetcore_logs ORDER BY id"),
            "peer_connections": try database.query("""
                SELECT id::text, ip_addr, peer_id, created_at::text, audit::text, name, chain, version, authority::text,
                       startup_time::text, implementation FROM peer_connections ORDER BY id
                """),
            "host_systems": try database.query("SELECT id::text, description, os, cpu_qty::text, cpu_clock::text, ram_mb::text, disk_info FROM host_systems ORDER BY id"),
            "benchmarks": try database.query("SELECT id::text, setup::text, created_at::text FROM benchmarks ORDER BY id"),
            "benchmark_events": try database.query("SELECT id::text, benchmark_id::text, name, phase, created_at::text FROM benchmark_events ORDER BY id"),
        ]
    }

    private func assertSameRows(_ before: [String: [[String?]]], file: StaticString = #filePath, line: UInt = #line) throws {
        let after = try snapshot()
        for (table, rows) in before {
            XCTAssertEqual(after[table]?.count, rows.count, table, file: file, line: line)
            XCTAssertTrue(after[table] == rows, "\(table) changed", file: file, line: line)
        }
    }

    private func isOriginal() throws -> Bool {
        try database.scalar("""
            SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AND to_regclass('schema_migrations') IS NULL
               AND (SELECT relkind FROM pg_class WHERE relname = 'tetcore_logs') = 'r'
               AND (SELECT data_type FROM information_schema.columns
                    WHERE table_name = 'peer_connections' AND column_name = 'ip_addr') = 'character varying'
            """) == "t"
    }

    func testMigrateAdoptsTheOriginalDatabaseKeepingEveryRowAndItsIds() throws {
        try makeOriginal()
        let before = try snapshot()
        for (table, rows) in OriginalDatabase.rowCounts { XCTAssertEqual(before[table]?.count, rows, table) }

        let run = try migrate()
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("Adopting a database of the original server"), run.output)
        for (table, rows) in OriginalDatabase.rowCounts {
            let line = try XCTUnwrap(run.output.split(separator: "\n").first { $0.hasPrefix(table + " ") }, "\(table) counted: \(run.output)")
            XCTAssertEqual(line.split(separator: " ").map(String.init), [table, "\(rows)", "\(rows)"], run.output)
        }
        XCTAssertTrue(run.output.contains("benchmarks: 4 with a setup"), run.output)

        // Every row, id and value as before; log rows in the partitioned table.
        try assertSameRows(before)
        XCTAssertEqual(try database.scalar("SELECT relkind::text FROM pg_class WHERE relname = 'tetcore_logs'"), "p")
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM tetcore_logs_audit"),
                       try database.scalar("SELECT count(*) FROM tetcore_logs WHERE peer_connection_id = 2"), "connection 2 is audit: its rows never expire")
        XCTAssertEqual(try database.scalar("""
            SELECT count(*) FROM tetcore_logs l JOIN peer_connections pc ON pc.id = l.peer_connection_id WHERE l.audit <> pc.audit
            """), "0")
        XCTAssertGreaterThan(Int(try database.scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'tetcore_logs'::regclass") ?? "") ?? 0, 3)
        XCTAssertNil(try database.scalar("SELECT to_regclass('__diesel_schema_migrations')::text"))
        let versions = try database.query("SELECT version FROM schema_migrations ORDER BY version").map { $0[0] ?? "" }
        let files = try FileManager.default.contentsOfDirectory(atPath: ServerProcess.repositoryRoot.appendingPathComponent("Migrations").path)
            .filter { $0.hasSuffix(".sql") }.map { String($0.dropLast(4)) }.sorted()
        XCTAssertEqual(versions, files)

        // The setup is kept; the README's fields are filled where it names them.
        let mapped = try database.query("""
            SELECT id::text, ts_start::text, ts_end::text, description, chain_spec::text, benchmark_spec::text,
                   host_system_id::text, peer_id FROM benchmarks ORDER BY id
            """)
        XCTAssertEqual(mapped[0], ["1", "2020-09-01 10:00:00", "2020-09-01 20:00:00", "import 1000 blocks", #"{"id": "dev"}"#,
                                   #"{"blocks": 1000}"#, "1", "12D3KooWOriginalNodeA"])
        XCTAssertEqual(mapped[1], ["2", "2020-09-02 08:00:00", nil, nil, nil, nil, nil, "12D3KooWOriginalNodeB"],
                       "the offset is converted to UTC; host system 77 does not exist")
        XCTAssertEqual(mapped[2], ["3", nil, nil, nil, nil, nil, nil, nil], "2019-02-30 is no date")
        XCTAssertEqual(mapped[3], ["4", nil, nil, nil, nil, nil, nil, "12D3KooWOriginalNodeA"], "peer_id wins; a number is no description")

        // The sequences go on after the highest id.
        XCTAssertEqual(try database.scalar("INSERT INTO peer_connections (ip_addr) VALUES ('127.0.0.1') RETURNING id::text"), "5")
        XCTAssertEqual(try database.scalar("""
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id) VALUES (now(), '{}', 5) RETURNING id::text
            """), "601")
        XCTAssertEqual(try database.scalar("SELECT data_type FROM information_schema.sequences WHERE sequence_name = 'tetcore_logs_id_seq'"), "bigint")

        // A second run finds nothing to do.
        let again = try migrate()
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertFalse(again.output.contains("Adopting"), again.output)
    }

    func testTheAdoptedSchemaIsTheSchemaOfAFreshDatabase() throws {
        try makeOriginal()
        XCTAssertEqual(try migrate().status, 0)
        let fresh = try TestDatabase()
        defer { fresh.drop() }
        XCTAssertEqual(try migrate(fresh.url).status, 0)
        // Columns (type, NOT NULL, default), indexes and constraints with
        // their definitions, functions; column order and the partitions of
        // days that have rows may differ.
        let describe = """
            SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                   || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
              AND c.relname !~ '^tetcore_logs_live_[0-9]{8}$'
            UNION ALL
            SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
            WHERE c.relnamespace = 'public'::regnamespace AND c.relname !~ '^tetcore_logs_live_[0-9]{8}$'
            UNION ALL
            SELECT 'constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            WHERE c.relnamespace = 'public'::regnamespace AND c.relname !~ '^tetcore_logs_live_[0-9]{8}$'
            UNION ALL
            SELECT 'sequence ' || sequencename || ' ' || data_type::text FROM pg_sequences WHERE schemaname = 'public'
            UNION ALL
            SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
            ORDER BY 1
            """
        let adopted = try database.query(describe).map { $0[0] ?? "" }
        let made = try fresh.query(describe).map { $0[0] ?? "" }
        XCTAssertEqual(adopted.filter { !made.contains($0) }, [], "only in the adopted database")
        XCTAssertEqual(made.filter { !adopted.contains($0) }, [], "only in the fresh database")
    }

    func testAnAdoptedDatabaseIsServedInBothRequestForms() throws {
        try makeOriginal()
        // `serve` does not adopt: it says what to do and leaves the database alone.
        let refused = try ServerProcess(environment: ["DATABASE_URL": database.url], waitUntilReady: false)
        refused.process.waitUntilExit()
        XCTAssertEqual(refused.process.terminationStatus, 1)
        eventually(5, "the refusal logged") { refused.log.contains("run `tetcore-analytics migrate` to adopt it") }
        XCTAssertTrue(try isOriginal())

        XCTAssertEqual(try migrate().status, 0)
        let server = try ServerProcess(environment: ["DATABASE_URL": database.url, "DB_SAVE_LATENCY_MS": "10"])
        defer { _ = server.terminate() }
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try server.get("/benchmarks").body.utf8)) as? [[String: Any]])
        XCTAssertEqual(list.map { $0["id"] as? Int }, [4, 3, 2, 1])
        XCTAssertEqual((list.last?["setup"] as? [String: Any])?["description"] as? String, "import 1000 blocks")
        XCTAssertEqual(list.last?["ts_start"] as? String, "2020-09-01T10:00:00.000000")
        let targets = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try server.get("/benchmarks/1/targets").body.utf8)) as? [[String: Any]])
        XCTAssertEqual(targets.compactMap { $0["target"] as? String }, ["pallet_babe", "pallet_grandpa"])
        let events = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try server.get("/benchmarks/1/events").body.utf8)) as? [[String: Any]])
        XCTAssertEqual(events.compactMap { $0["phase"] as? String }, ["start", "end"])

        // A node of the new server lands next to the original's rows.
        let node = try RawClient(port: server.port)
        XCTAssertEqual(try node.upgrade(), 101)
        try node.sendText(#"{"msg":"system.interval","ts":"2020-09-04T00:00:00Z","peers":3}"#)
        eventually(10, "the new row stored") { try self.database.scalar("SELECT count(*) FROM tetcore_logs") == "601" }
    }

    func testADatabaseWithObjectsTheOriginalDidNotMakeIsRefusedByName() throws {
        try makeOriginal()
        try database.query("""
            CREATE VIEW recent_imports AS SELECT * FROM tetcore_logs WHERE logs->>'msg' = 'block.import';
            CREATE INDEX my_peer_index ON tetcore_logs (peer_connection_id);
            ALTER TABLE host_systems ADD COLUMN rack text;
            """)
        let run = try migrate()
        XCTAssertEqual(run.status, 1, run.output)
        for name in ["not made by the original server: view recent_imports", "not made by the original server: index my_peer_index on tetcore_logs",
                     "not made by the original server: column host_systems.rack text", "nothing was changed"] {
            XCTAssertTrue(run.output.contains(name), "\(name) in \(run.output)")
        }
        XCTAssertTrue(try isOriginal())
    }

    func testAnOriginalDatabaseMissingItsLastMigrationIsRefusedByName() throws {
        try makeOriginal(migrations: OriginalDatabase.migrations.count - 1)
        let run = try migrate()
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertTrue(run.output.contains("diesel has not applied the original's migrations 20200908111742"), run.output)
        XCTAssertTrue(run.output.contains("missing from the original's schema: index tetcore_logs_peerset_nodes_idx on tetcore_logs"), run.output)
        XCTAssertTrue(try isOriginal())
    }

    func testAnInterruptedAdoptionLeavesTheOriginalAsItWasAndRunsAgain() throws {
        try makeOriginal()
        let before = try snapshot()
        // Another session reads diesel's table in an open transaction: the
        // adoption converts everything else, then waits to drop that table.
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        reader.arguments = ["-qX", database.url, "-c", "BEGIN; SELECT count(*) FROM __diesel_schema_migrations; SELECT pg_sleep(60); COMMIT;"]
        reader.standardOutput = FileHandle.nullDevice
        try reader.run()
        defer { if reader.isRunning { reader.terminate() } }

        let migrating = Process()
        migrating.executableURL = URL(fileURLWithPath: ServerProcess.executable)
        migrating.arguments = ["migrate"]
        migrating.environment = ["DATABASE_URL": database.url, "PATH": "/usr/bin:/bin"]
        migrating.currentDirectoryURL = ServerProcess.repositoryRoot
        migrating.standardOutput = FileHandle.nullDevice
        migrating.standardError = FileHandle.nullDevice
        try migrating.run()
        let waiting = """
            SELECT a.pid::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE NOT l.granted AND l.relation = '__diesel_schema_migrations'::regclass
            """
        eventually(60, "the adoption waits for diesel's table") { try self.database.scalar(waiting) != nil }
        let pid = try XCTUnwrap(try database.scalar(waiting))
        // The process dies and its session ends mid-transaction.
        kill(migrating.processIdentifier, SIGKILL)
        migrating.waitUntilExit()
        try database.query("SELECT pg_terminate_backend(\(pid))")
        // The reader's session too (psql's own end would leave its pg_sleep running).
        try database.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        reader.waitUntilExit()
        eventually(10, "the sessions gone") {
            try self.database.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()") == "0"
        }

        XCTAssertTrue(try isOriginal(), "the interrupted transaction changed nothing")
        try assertSameRows(before)
        let run = try migrate()
        XCTAssertEqual(run.status, 0, run.output)
        try assertSameRows(before)
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM tetcore_logs"), "600")
    }
}
