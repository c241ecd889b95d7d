import PostgresClient
import WebServer
/// GET /reputation, /reputation/logged and /reputation/{peer_id}: what the
/// `state.peerset.nodes` of stored `system.network_state` messages say.
struct ReputationAPI {
    let database: APIDatabase

    func install(in router: inout Router) {
        // Registered before /reputation/{peer_id}, which would match it too.
        router.addAPI("GET", "/reputation/logged") { (request, respond) throws(APIError) in
            try latest(request, loggedOnly: true, respond)
        }
        router.addAPI("GET", "/reputation") { (request, respond) throws(APIError) in
            try latest(request, loggedOnly: false, respond)
        }
        router.addAPI("GET", "/reputation/{peer_id}") { (request, respond) throws(APIError) in
            let arguments = QueryArguments(request)
            let parameters: [PGParameter] = [
                .text(try PathArguments.string(request, "peer_id")),
                .text(try arguments.timestamp("start_time")),
                .text(try arguments.timestamp("end_time")),
                .int64(try arguments.integer("limit", default: 1000, in: 1...10_000)),
            ]
            database.respondWithJSON(ReputationAPI.peerSQL, parameters, route: "/reputation/{peer_id}", respond)
        }
    }

    private func latest(_ request: HTTPRequest, loggedOnly: Bool,
                        _ respond: @escaping (HTTPResponse) -> Void) throws(APIError) {
        let arguments = QueryArguments(request)
        let parameters: [PGParameter] = [
            .int64(try arguments.integer("max_age_s", default: 60, in: 1...(100 * 365 * 86400))),
            .int64(try arguments.integer("limit", default: 100, in: 1...10_000)),
            .bool(loggedOnly),
        ]
        database.respondWithJSON(ReputationAPI.latestSQL, parameters,
                                 route: loggedOnly ? "/reputation/logged" : "/reputation", respond)
    }

    /// `state.peerset.nodes` of a stored message, or an empty object when a
    /// node sent something else there (node data is not trusted to have
    /// the expected shape; a bad entry must not fail the whole query).
    private static let peersetNodes = """
        CASE WHEN jsonb_typeof(l.logs->'state'->'peerset'->'nodes') = 'object'
             THEN l.logs->'state'->'peerset'->'nodes' ELSE '{}'::jsonb END
        """

    /// An entry's reputation and connected flag as the node sent them, or
    /// null when they are not a JSON number / boolean. No cast, regular
    /// expression or sort per entry: with 100 reporters of 300 peers these
    /// run 30,000 times a request, and a version with them took 2.4 ms per
    /// reporter against 1.4 ms (EXPLAIN ANALYZE at 10M rows).
    private static func reputation(_ entry: String) -> String {
        "CASE jsonb_typeof(\(entry)->'reputation') WHEN 'number' THEN \(entry)->'reputation' END"
    }

    private static func connected(_ entry: String) -> String {
        "CASE jsonb_typeof(\(entry)->'connected') WHEN 'boolean' THEN \(entry)->'connected' END"
    }

    /// The newest network state of each reporting peer within the window
    /// (found through the partial index on network-state rows), then its
    /// peerset as three parallel arrays. The three aggregates of one
    /// Aggregate node read the same rows in the same order (jsonb's key
    /// order), so the arrays line up without a sort each. $3 keeps only
    /// remote peers that have reported to this server themselves.
    static let latestSQL = """
        WITH latest AS (
            SELECT DISTINCT ON (pc.peer_id) pc.peer_id, l.peer_connection_id, l.created_at, l.id
            FROM tetcore_logs l JOIN peer_connections pc ON pc.id = l.peer_connection_id
            WHERE l.logs->>'msg' = 'system.network_state'
              AND l.created_at > (now() AT TIME ZONE 'utc') - make_interval(secs => $1::bigint)
              AND pc.peer_id IS NOT NULL
            ORDER BY pc.peer_id, l.created_at DESC, l.id DESC
            LIMIT $2)
        SELECT coalesce(json_agg(json_build_object(
                   'reporting_peer', latest.peer_id,
                   'remote_peer', coalesce(e.remote_peer, '[]'), 'reputation', coalesce(e.reputation, '[]'),
                   'connected', coalesce(e.connected, '[]'),
                   'ts', \(APITime.sql("latest.created_at"))) ORDER BY latest.peer_id), '[]')::text
        FROM latest
        -- Found again through (peer_connection_id, created_at): ids are not
        -- indexed (tetcore_logs is partitioned by time, see Migrations/0003).
        JOIN tetcore_logs l ON l.peer_connection_id = latest.peer_connection_id
                           AND l.created_at = latest.created_at AND l.id = latest.id
        CROSS JOIN LATERAL (
            SELECT jsonb_agg(n.key) AS remote_peer,
                   jsonb_agg(\(reputation("n.value"))) AS reputation,
                   jsonb_agg(\(connected("n.value"))) AS connected
            FROM jsonb_each(\(peersetNodes)) n
            WHERE NOT $3::boolean OR EXISTS (SELECT 1 FROM peer_connections p WHERE p.peer_id = n.key)) e
        """

    /// Every stored network state in the window whose peerset has the peer
    /// as a key, newest first, with that peer's own entry only. The rows
    /// come from tetcore_peer_reputation_entries (Migrations/0011–0013): a
    /// walk of the partial index on network-state rows newest first that
    /// stops at the `limit`-th match, reading a row's JSON only when the
    /// row's peerset hashes hold the peer's; for a peer that few rows name,
    /// the rest of the window through a GIN index over the hashes. Each
    /// read has one plan, and the function chooses between them by counting
    /// rows: as one SQL statement the planner chose by the statistics, and
    /// chose reading and sorting every network state of the window, ten
    /// times slower, at 10 million rows (docs/performance.md).
    static let peerSQL = """
        SELECT coalesce(json_agg(json_build_object(
                   'reporting_peer', pc.peer_id, 'reputation', \(reputation("s.entry")),
                   'connected', \(connected("s.entry")), 'ts', \(APITime.sql("s.created_at")))
                   ORDER BY s.created_at DESC, s.id DESC), '[]')::text
        FROM tetcore_peer_reputation_entries($1::text, $2::timestamp, $3::timestamp, $4::bigint) s
        JOIN peer_connections pc ON pc.id = s.peer_connection_id
        """
}
