/// What a database of the original (Rust, diesel) server holds once all of
/// its migrations ran, and the SQL that turns it into this project's
/// schema as of `0002_query_api`, rows kept. OriginalSchemaAdoption
/// decides when to use it; the later migrations then run as usual.
///
/// The original's objects are compared by descriptor: one line per table,
/// column (with its type and NOT NULL), index, constraint, sequence,
/// function, trigger, view or type of the current schema. Objects that
/// belong to an extension (pg_stat_statements and the like) are left out:
/// they are neither the original's nor touched here.
enum OriginalSchema {
    /// The versions diesel records in `__diesel_schema_migrations`, in the
    /// order the original applied them.
    static let dieselVersions = [
        "00000000000000", "20190211181154", "20190523134208", "20190523135015", "20190816131907",
        "20190816132515", "20190822094016", "20190927125919", "20190930144205", "20191028055145",
        "20191028064727", "20191211135359", "20191213130241", "20191213161417", "20200410113123",
        "20200908111742",
    ]

    /// This project's migrations that the conversion stands for.
    static let replacedMigrations = ["0001_initial_schema", "0002_query_api"]

    /// The tables whose rows are kept, counted before and after.
    static let dataTables = ["tetcore_logs", "peer_connections", "host_systems", "benchmarks", "benchmark_events"]

    private static let varchar = "character varying"
    private static let timestamp = "timestamp without time zone"

    /// Every object of the original's final schema, as `descriptorsSQL`
    /// describes them.
    static let descriptors: Set<String> = {
        var set: Set<String> = [
            "function diesel_manage_updated_at(regclass)", "function diesel_set_updated_at()",
            "table __diesel_schema_migrations",
            "column __diesel_schema_migrations.version character varying(50) not null",
            "column __diesel_schema_migrations.run_on \(timestamp) not null",
            "index __diesel_schema_migrations_pkey on __diesel_schema_migrations",
            "constraint __diesel_schema_migrations_pkey on __diesel_schema_migrations",
            "index tetcore_logs_msg_type_idx on tetcore_logs",
            "index tetcore_logs_created_at_msg_idx on tetcore_logs",
            "index tetcore_logs_peerset_nodes_idx on tetcore_logs",
            "constraint tetcore_logs_peer_connection_id_fkey on tetcore_logs",
            "index peer_connections_peer_id_idx on peer_connections",
            "constraint benchmark_events_benchmark_id_fkey on benchmark_events",
        ]
        let columns: [String: [String]] = [
            "tetcore_logs": ["id integer not null", "created_at \(timestamp) not null", "logs jsonb not null",
                             "peer_connection_id integer not null"],
            "peer_connections": ["id integer not null", "ip_addr \(varchar) not null", "peer_id \(varchar)",
                                 "created_at \(timestamp) not null", "audit boolean not null", "name \(varchar)",
                                 "chain \(varchar)", "version \(varchar)", "authority boolean", "startup_time bigint",
                                 "implementation \(varchar)"],
            "host_systems": ["id integer not null", "description \(varchar) not null", "os \(varchar) not null",
                             "cpu_qty integer not null", "cpu_clock integer not null", "ram_mb integer not null",
                             "disk_info \(varchar) not null"],
            "benchmarks": ["id integer not null", "setup jsonb not null", "created_at \(timestamp) not null"],
            "benchmark_events": ["id integer not null", "benchmark_id integer not null", "name \(varchar) not null",
                                 "phase \(varchar) not null", "created_at \(timestamp) not null"],
        ]
        for (table, list) in columns {
            // Every table of the original has a serial id and its primary key.
            set.formUnion(["table \(table)", "sequence \(table)_id_seq", "index \(table)_pkey on \(table)",
                           "constraint \(table)_pkey on \(table)"])
            set.formUnion(list.map { "column \(table).\($0)" })
        }
        return set
    }()

    /// One row per object of the current schema (see `descriptors`), and
    /// one `diesel VERSION` row per version diesel recorded.
    static let descriptorsSQL = """
        WITH own AS (
            SELECT c.oid, c.relname, c.relkind FROM pg_class c
            WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
              AND NOT EXISTS (SELECT 1 FROM pg_depend d
                              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'))
        SELECT 'diesel ' || version FROM __diesel_schema_migrations
        UNION ALL
        SELECT CASE relkind WHEN 'r' THEN 'table ' WHEN 'p' THEN 'partitioned table ' WHEN 'v' THEN 'view '
                            WHEN 'm' THEN 'materialized view ' WHEN 'f' THEN 'foreign table ' WHEN 'S' THEN 'sequence '
                            WHEN 'c' THEN 'type ' ELSE 'relation ' END || relname
        FROM own WHERE relkind NOT IN ('i', 'I', 't')
        UNION ALL
        SELECT 'index ' || i.relname || ' on ' || t.relname
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN own t ON t.oid = x.indrelid
        UNION ALL
        SELECT 'column ' || t.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
        FROM pg_attribute a JOIN own t ON t.oid = a.attrelid
        WHERE t.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT 'constraint ' || k.conname || ' on ' || t.relname
        FROM pg_constraint k JOIN own t ON t.oid = k.conrelid WHERE k.contype <> 'n'
        UNION ALL
        SELECT 'trigger ' || g.tgname || ' on ' || t.relname
        FROM pg_trigger g JOIN own t ON t.oid = g.tgrelid WHERE NOT g.tgisinternal
        UNION ALL
        SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
        WHERE p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
        UNION ALL
        SELECT 'type ' || y.typname FROM pg_type y
        WHERE y.typnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
          AND y.typtype IN ('e', 'd', 'r', 'm')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_type'::regclass AND d.objid = y.oid AND d.deptype = 'e')
        """

    /// Taken before the counts: nothing is written between the counts
    /// before and after (a writer still running, such as an original
    /// server that was not stopped, waits for the commit).
    static let lockSQL = "LOCK TABLE \(dataTables.joined(separator: ", ")) IN ACCESS EXCLUSIVE MODE"

    /// Row count and sum of ids of each data table, one row each:
    /// `table`, `rows`, `id_sum` (text).
    static let countsSQL = dataTables.map { table in
        "SELECT '\(table)' AS table_name, count(*)::text, coalesce(sum(id), 0)::text FROM \(table)"
    }.joined(separator: "\nUNION ALL\n")

    /// The original's indexes that this project does not keep: they cost
    /// every insert, and this schema's own indexes serve its queries. Named
    /// in the report so that an operator whose own SQL used one can make it
    /// again.
    static let droppedIndexes = ["tetcore_logs_msg_type_idx", "tetcore_logs_created_at_msg_idx", "tetcore_logs_peerset_nodes_idx"]

    /// The original's final schema → this project's after 0001 and 0002,
    /// plus the `setup` column that 0005 also adds (it is the original's
    /// benchmark). Runs inside the adoption's transaction. tetcore_logs is
    /// left unpartitioned with an integer id: 0003, run next in the same
    /// transaction, copies it into the partitioned table with a bigint id.
    static let conversionSQL = """
        DROP INDEX peer_connections_peer_id_idx;
        ALTER TABLE peer_connections
            ALTER COLUMN ip_addr TYPE text, ALTER COLUMN peer_id TYPE text, ALTER COLUMN name TYPE text,
            ALTER COLUMN chain TYPE text, ALTER COLUMN version TYPE text, ALTER COLUMN implementation TYPE text,
            ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'utc');
        CREATE INDEX peer_connections_peer_id_idx ON peer_connections (peer_id, id);

        ALTER TABLE host_systems
            ALTER COLUMN description TYPE text, ALTER COLUMN os TYPE text, ALTER COLUMN disk_info TYPE text;

        ALTER TABLE benchmarks
            ALTER COLUMN setup DROP NOT NULL,
            ADD COLUMN ts_start timestamp, ADD COLUMN ts_end timestamp, ADD COLUMN description text,
            ADD COLUMN chain_spec jsonb, ADD COLUMN benchmark_spec jsonb,
            ADD COLUMN host_system_id integer REFERENCES host_systems (id), ADD COLUMN peer_id text;

        ALTER TABLE benchmark_events ALTER COLUMN name TYPE text, ALTER COLUMN phase TYPE text;
        CREATE INDEX benchmark_events_benchmark_id_idx ON benchmark_events (benchmark_id, created_at);

        ALTER TABLE tetcore_logs DROP CONSTRAINT tetcore_logs_peer_connection_id_fkey;
        DROP INDEX \(droppedIndexes.joined(separator: ", "));
        ALTER TABLE tetcore_logs ALTER COLUMN created_at DROP DEFAULT;
        ALTER SEQUENCE tetcore_logs_id_seq AS bigint;
        CREATE INDEX tetcore_logs_connection_time_idx ON tetcore_logs (peer_connection_id, created_at);
        CREATE INDEX tetcore_logs_created_at_idx ON tetcore_logs (created_at);
        CREATE INDEX tetcore_logs_network_state_idx ON tetcore_logs (created_at)
            WHERE (logs->>'msg') = 'system.network_state';

        CREATE TABLE ingest_batches (
            id           text PRIMARY KEY,
            committed_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'));

        -- diesel's bookkeeping goes last.
        DROP TABLE __diesel_schema_migrations;
        DROP FUNCTION diesel_manage_updated_at(regclass);
        DROP FUNCTION diesel_set_updated_at();
        """
}
