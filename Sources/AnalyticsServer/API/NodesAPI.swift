import PostgresClient
import WebServer
/// GET /nodes, /nodes/log_stats and /nodes/logs.
struct NodesAPI {
    let database: APIDatabase

    func install(in router: inout Router) {
        router.addAPI("GET", "/nodes") { (_, respond) throws(APIError) in
            database.respondWithJSON(NodesAPI.nodesSQL, [], route: "/nodes", respond)
        }
        router.addAPI("GET", "/nodes/log_stats") { (request, respond) throws(APIError) in
            let peerID = try QueryArguments(request).requiredString("peer_id")
            database.respondWithJSON(NodesAPI.logStatsSQL, [.text(peerID)], route: "/nodes/log_stats", respond)
        }
        router.addAPI("GET", "/nodes/logs") { (request, respond) throws(APIError) in
            let arguments = QueryArguments(request)
            let parameters: [PGParameter] = [
                .text(try arguments.requiredString("peer_id")),
                .text(try arguments.optionalString("msg")),
                .text(try arguments.optionalString("target")),
                .text(try arguments.timestamp("start_time")),
                .text(try arguments.timestamp("end_time")),
                .int64(try arguments.integer("limit", default: 100, in: 1...10_000)),
            ]
            database.respondWithJSON(NodesAPI.logsSQL, parameters, route: "/nodes/logs", respond)
        }
    }

    /// The newest connection of each peer id; DISTINCT ON puts every
    /// connection without a peer id into one group, as the issue asks.
    static let nodesSQL = """
        SELECT coalesce(json_agg(json_build_object(
                   'id', n.id, 'ip_addr', n.ip_addr, 'peer_id', n.peer_id,
                   'created_at', \(APITime.sql("n.created_at")), 'audit', n.audit, 'name', n.name,
                   'chain', n.chain, 'version', n.version, 'authority', n.authority,
                   'startup_time', n.startup_time, 'implementation', n.implementation) ORDER BY n.id), '[]')::text
        FROM (SELECT DISTINCT ON (peer_id) * FROM peer_connections ORDER BY peer_id, id DESC) n
        """

    static let logStatsSQL = """
        SELECT coalesce(json_agg(json_build_object('qty', s.qty, 'log_type', s.msg) ORDER BY s.msg), '[]')::text
        FROM (SELECT l.logs->>'msg' AS msg, count(*) AS qty
              FROM tetcore_logs l
              WHERE l.peer_connection_id IN (SELECT id FROM peer_connections WHERE peer_id = $1)
              GROUP BY 1) s
        """

    /// Each filter applies only when its parameter is not NULL. The
    /// statement is planned with the actual values (unnamed statement), so
    /// the NULL tests fold away. The newest rows are taken connection by
    /// connection through the (peer_connection_id, created_at) index, read
    /// backwards up to the limit, then merged: without the LATERAL the
    /// planner may walk the global created_at index instead, reading about
    /// (limit x nodes) rows for one node's page.
    static let logsSQL = """
        SELECT coalesce(json_agg(json_build_object(
                   'ip_addr', r.ip_addr, 'peer_id', r.peer_id, 'msg', r.logs->>'msg',
                   'created_at', \(APITime.sql("r.created_at")), 'logs', r.logs) ORDER BY r.created_at DESC, r.id DESC), '[]')::text
        FROM (SELECT pc.ip_addr, pc.peer_id, l.id, l.created_at, l.logs
              FROM peer_connections pc
              CROSS JOIN LATERAL (
                  SELECT l.id, l.created_at, l.logs
                  FROM tetcore_logs l
                  WHERE l.peer_connection_id = pc.id
                    AND ($2::text IS NULL OR l.logs->>'msg' = $2::text)
                    AND ($3::text IS NULL OR l.logs->>'target' = $3::text)
                    AND ($4::timestamp IS NULL OR l.created_at > $4::timestamp)
                    AND l.created_at < coalesce($5::timestamp, now() AT TIME ZONE 'utc')
                  ORDER BY l.created_at DESC
                  LIMIT $6) l
              WHERE pc.peer_id = $1
              ORDER BY l.created_at DESC
              LIMIT $6) r
        """
}
