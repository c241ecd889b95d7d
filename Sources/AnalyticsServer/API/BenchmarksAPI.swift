import PostgresClient
import WebServer
/// Benchmarks, their events, and the telemetry targets of the benchmarked node.
struct BenchmarksAPI {
    let database: APIDatabase
    let writes: WriteAuthorization

    func install(in router: inout Router) {
        router.addAPI("GET", "/benchmarks") { (_, respond) throws(APIError) in
            database.respondWithJSON(BenchmarksAPI.listSQL, [], route: "/benchmarks", respond)
        }
        router.addAPI("POST", "/benchmarks") { (request, respond) throws(APIError) in
            try writes.check(request)
            let body = try JSONBody(request)
            // The original code's form, {"setup": {...}} (BenchmarkSetupForm).
            if body.contains("setup") { return try BenchmarkSetupForm(database: database).store(body, respond) }
            let hostSystemID = try body.int32("host_system_id")
            let parameters: [PGParameter] = [
                .text(try body.timestamp("ts_start")), .text(try body.timestamp("ts_end")),
                .text(try body.string("description")), .text(try body.object("chain_spec")),
                .text(try body.object("benchmark_spec")), .int32(hostSystemID),
                .text(try body.optionalString("peer_id")),
            ]
            database.respondWithJSON(BenchmarksAPI.insertSQL, parameters, route: "POST /benchmarks", access: .write,
                                     whenNoRow: .error(422, "host_system_id \(hostSystemID) does not exist"), respond)
        }
        // Registered before /benchmarks/{id}/… so that "events" is never
        // taken for an id.
        router.addAPI("POST", "/benchmarks/events") { (request, respond) throws(APIError) in
            try writes.check(request)
            let body = try JSONBody(request)
            let benchmarkID = try body.int32("benchmark_id")
            let parameters: [PGParameter] = [
                .int32(benchmarkID), .text(try body.string("name")), .text(try body.string("phase")),
                .text(try body.optionalTimestamp("created_at")),
            ]
            database.respondWithJSON(BenchmarksAPI.insertEventSQL, parameters, route: "POST /benchmarks/events", access: .write,
                                     whenNoRow: .error(422, "benchmark_id \(benchmarkID) does not exist"), respond)
        }
        router.addAPI("GET", "/benchmarks/{id}/events") { (request, respond) throws(APIError) in
            let id = try PathArguments.id(request)
            database.respondWithJSON(BenchmarksAPI.eventsSQL, [.int32(id)], route: "/benchmarks/{id}/events",
                                     whenNoRow: .error(404, "benchmark \(id) does not exist"), respond)
        }
        router.addAPI("GET", "/benchmarks/{id}/targets") { (request, respond) throws(APIError) in
            let id = try PathArguments.id(request)
            database.respondWithJSON(BenchmarksAPI.targetsSQL, [.int32(id)], route: "/benchmarks/{id}/targets",
                                     whenNoRow: .error(404, "benchmark \(id) does not exist"), respond)
        }
    }

    private static let fields = """
        'id', b.id, 'ts_start', \(APITime.sql("b.ts_start")), 'ts_end', \(APITime.sql("b.ts_end")),
        'description', b.description, 'chain_spec', b.chain_spec, 'benchmark_spec', b.benchmark_spec,
        'host_system_id', b.host_system_id, 'peer_id', b.peer_id, 'created_at', \(APITime.sql("b.created_at"))
        """

    /// `setup` only when the benchmark has one (the original's form).
    static let object = """
        CASE WHEN b.setup IS NULL THEN json_build_object(\(fields))
             ELSE json_build_object(\(fields), 'setup', b.setup) END
        """

    private static let eventObject = """
        json_build_object('id', e.id, 'benchmark_id', e.benchmark_id, 'name', e.name, 'phase', e.phase,
                          'created_at', \(APITime.sql("e.created_at")))
        """

    /// Newest first: ids are handed out in creation order.
    static let listSQL = "SELECT coalesce(json_agg(\(object) ORDER BY b.id DESC), '[]')::text FROM benchmarks b"

    /// No row when the host system does not exist (then 422); the foreign
    /// key still guards a host system deleted in between.
    static let insertSQL = """
        INSERT INTO benchmarks AS b (ts_start, ts_end, description, chain_spec, benchmark_spec, host_system_id, peer_id)
        SELECT $1::timestamp, $2::timestamp, $3, $4::jsonb, $5::jsonb, h.id, $7 FROM host_systems h WHERE h.id = $6
        RETURNING \(object)::text
        """

    static let insertEventSQL = """
        INSERT INTO benchmark_events AS e (benchmark_id, name, phase, created_at)
        SELECT b.id, $2, $3, coalesce($4::timestamp, now() AT TIME ZONE 'utc') FROM benchmarks b WHERE b.id = $1
        RETURNING \(eventObject)::text
        """

    /// One row (the events, possibly none) when the benchmark exists, no
    /// row otherwise.
    static let eventsSQL = """
        SELECT (SELECT coalesce(json_agg(\(eventObject) ORDER BY e.created_at, e.id), '[]')
                FROM benchmark_events e WHERE e.benchmark_id = b.id)::text
        FROM benchmarks b WHERE b.id = $1
        """

    /// The distinct targets the benchmarked node logged between the
    /// benchmark's start and end, read through the (peer_connection_id,
    /// created_at) index; [] when the benchmark names no node. A benchmark
    /// stored with only a setup may lack either end: that side is open.
    static let targetsSQL = """
        SELECT (SELECT coalesce(json_agg(json_build_object('target', t.target) ORDER BY t.target), '[]')
                FROM (SELECT DISTINCT l.logs->>'target' AS target
                      FROM tetcore_logs l JOIN peer_connections pc ON pc.id = l.peer_connection_id
                      WHERE pc.peer_id = b.peer_id AND l.created_at BETWEEN coalesce(b.ts_start, '-infinity') AND coalesce(b.ts_end, 'infinity')
                        AND l.logs->>'target' IS NOT NULL) t)::text
        FROM benchmarks b WHERE b.id = $1
        """
}
