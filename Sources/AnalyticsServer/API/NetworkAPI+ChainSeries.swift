import PostgresClient
import WebServer

/// GET /chains/{genesis_hash}/series: a chain's history over a window,
/// from its nodes' series rows (one per node per NETWORK_SERIES_STEP_S
/// while online), each row attributed to the chain and version of the
/// session (connection) it fell in.
extension NetworkAPI {
    enum ChainSeriesMetric: String, CaseIterable {
        /// min/avg/max over the step of the number of nodes online.
        case nodes_online
        /// min/avg/max of the online nodes' own finality lag (best −
        /// finalized, in blocks).
        case finality_lag
        /// Nodes online in the step, per version.
        case versions
    }

    func chainSeries(_ request: HTTPRequest, _ respond: @escaping (HTTPResponse) -> Void) throws(APIError) {
        let genesis = try PathArguments.string(request, "genesis_hash")
        let arguments = QueryArguments(request)
        let allowed = ChainSeriesMetric.allCases.map(\.rawValue).joined(separator: ", ")
        guard let metric = ChainSeriesMetric(rawValue: try arguments.requiredString("metric")) else {
            throw .badRequest("parameter 'metric' must be one of \(allowed)")
        }
        let window = try SeriesWindow(arguments, seriesStepS: seriesStepS)
        let parameters: [PGParameter] = [.text(genesis), .int64(window.startMs), .int64(window.endMs), .int64(window.step),
                                         .int64(seriesStepS), .bool(view.peersByChain[genesis] != nil)]
        database.respondWithJSON(NetworkAPI.chainSeriesSQL(metric), parameters, route: "/chains/{genesis_hash}/series",
                                 whenNoRow: .error(404, "unknown chain"), respond)
    }

    /// $1 genesis, $2 start ms, $3 end ms, $4 step s, $5
    /// NETWORK_SERIES_STEP_S, $6 the view knows the chain. A series row
    /// (stamped with its step's start) belongs to the session that was
    /// connected during that step; of overlapping sessions of a peer (a
    /// reconnect within a step), the newer one.
    static func chainSeriesSQL(_ metric: ChainSeriesMetric) -> String {
        let rows = """
            sessions AS (SELECT i.id AS node_id, coalesce(s.version, 'unknown') AS version, s.connected_at, s.last_seen_at \
                         FROM network_node_sessions s JOIN network_node_ids i ON i.peer_id = s.peer_id \
                         WHERE s.genesis_hash = $1 AND s.connected_at < \(NetworkTime.sqlTimestamp("$3::bigint")) \
                           AND s.last_seen_at >= \(NetworkTime.sqlTimestamp("$2::bigint - $5::bigint * 1000"))), \
            rows AS (SELECT DISTINCT ON (s.node_id, s.at) s.node_id, s.at, s.finality_lag, x.version \
                     FROM network_node_series s JOIN sessions x ON x.node_id = s.node_id \
                       AND s.at >= x.connected_at - make_interval(secs => $5::bigint) AND s.at <= x.last_seen_at \
                     WHERE s.at >= \(NetworkTime.sqlTimestamp("$2::bigint")) AND s.at < \(NetworkTime.sqlTimestamp("$3::bigint")) \
                     ORDER BY s.node_id, s.at, x.connected_at DESC)
            """
        let answer: String
        switch metric {
        case .nodes_online:
            answer = """
                SELECT json_agg(json_build_object('time', \(APITime.sql("t.step")), 'min', t.low, 'avg', t.mean, 'max', t.high) \
                                ORDER BY t.step) \
                FROM (SELECT \(stepStart) AS step, min(s.n) AS low, avg(s.n)::float8 AS mean, max(s.n) AS high \
                      FROM (SELECT at, count(*) AS n FROM rows GROUP BY at) s GROUP BY 1) t
                """
        case .finality_lag:
            answer = """
                SELECT json_agg(json_build_object('time', \(APITime.sql("t.step")), 'min', t.low, 'avg', t.mean, 'max', t.high) \
                                ORDER BY t.step) \
                FROM (SELECT \(stepStart) AS step, min(s.finality_lag) AS low, avg(s.finality_lag)::float8 AS mean, \
                             max(s.finality_lag) AS high \
                      FROM rows s WHERE s.finality_lag IS NOT NULL GROUP BY 1) t
                """
        case .versions:
            answer = """
                SELECT json_agg(json_build_object('time', \(APITime.sql("t.step")), 'versions', t.counts) ORDER BY t.step) \
                FROM (SELECT v.step, json_object_agg(v.version, v.n ORDER BY v.version) AS counts \
                      FROM (SELECT \(stepStart) AS step, s.version, count(DISTINCT s.node_id) AS n FROM rows s GROUP BY 1, 2) v \
                      GROUP BY v.step) t
                """
        }
        return """
            WITH \(rows) \
            SELECT CASE WHEN $6::boolean OR EXISTS (SELECT 1 FROM network_node_sessions WHERE genesis_hash = $1) THEN \
                   coalesce((\(answer)), '[]')::text END
            """
    }
}
