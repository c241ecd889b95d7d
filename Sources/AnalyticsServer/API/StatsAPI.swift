import WebServer
/// GET /stats/db: on-disk size of every table and index of the schema.
struct StatsAPI {
    let database: APIDatabase

    func install(in router: inout Router) {
        router.addAPI("GET", "/stats/db") { (_, respond) throws(APIError) in
            database.respondWithJSON(StatsAPI.sizesSQL, [], route: "/stats/db", respond)
        }
    }

    /// A table's size includes its TOAST data (where large telemetry messages
    /// live) but not its indexes, which are listed on their own. A
    /// partitioned table or index (tetcore_logs) counts all its partitions,
    /// which are also listed one by one.
    static let sizesSQL = """
        SELECT coalesce(json_agg(json_build_object('relation', s.relname, 'size', pg_size_pretty(s.bytes), 'bytes', s.bytes)
                   ORDER BY s.bytes DESC, s.relname), '[]')::text
        FROM (SELECT c.relname,
                     CASE c.relkind WHEN 'i' THEN pg_relation_size(c.oid) WHEN 'r' THEN pg_table_size(c.oid)
                       WHEN 'p' THEN (SELECT coalesce(sum(pg_table_size(t.relid)), 0)::bigint FROM pg_partition_tree(c.oid) t WHERE t.isleaf)
                       ELSE (SELECT coalesce(sum(pg_relation_size(t.relid)), 0)::bigint FROM pg_partition_tree(c.oid) t WHERE t.isleaf)
                     END AS bytes
              FROM pg_class c
              WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
                AND c.relkind IN ('r', 'i', 'p', 'I')) s
        """
}
