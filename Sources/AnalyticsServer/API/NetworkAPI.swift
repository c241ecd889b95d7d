import NetworkModel
import PostgresClient
import WebServer

/// GET /chains, /chains/{genesis_hash}, /chains/{genesis_hash}/nodes,
/// /chains/{genesis_hash}/blocks, /chains/{genesis_hash}/series,
/// /nodes/{peer_id}/state and /nodes/{peer_id}/series: the network, understood (docs/network.md).
///
/// The live answers come from this loop's NetworkView (every node of every
/// instance, read back from PostgreSQL each second), so they cost no query;
/// past windows, blocks and series are queries on the history tables.
struct NetworkAPI {
    let database: APIDatabase
    let view: NetworkView
    /// The node lists, built on a worker thread.
    let lists: NodeLists
    /// NETWORK_SERIES_STEP_S in seconds: the finest step series have.
    let seriesStepS: Int64

    /// The chains' answers, kept while the view has not changed (a second
    /// at most).
    final class Cache {
        var key: (generation: Int, second: Int64)?
        var bodies: [String: [UInt8]] = [:]
    }
    let cache = Cache()

    func install(in router: inout Router) {
        router.addAPI("GET", "/chains") { (_, respond) throws(APIError) in
            respond(.json(body: chains()))
        }
        router.addAPI("GET", "/chains/{genesis_hash}") { (request, respond) throws(APIError) in
            let genesis = try PathArguments.string(request, "genesis_hash")
            let arguments = QueryArguments(request)
            let start = try arguments.timestamp("start_time"), end = try arguments.timestamp("end_time")
            if start != nil || end != nil {
                return try chainWindow(genesis, start: start, end: end, respond)
            }
            guard let body = chain(genesis) else { throw APIError(404, "unknown chain") }
            respond(.json(body: body))
        }
        router.addAPI("GET", "/chains/{genesis_hash}/nodes") { (request, respond) throws(APIError) in
            let genesis = try PathArguments.string(request, "genesis_hash")
            let arguments = QueryArguments(request)
            let online = try arguments.boolean("online")
            var order = NodeOrder()
            if let text = try arguments.optionalString("sort") {
                guard let parsed = NodeOrder(text) else {
                    throw .badRequest("parameter 'sort' must be one of \(NodeOrder.allowed), optionally with a leading '-'")
                }
                order = parsed
            }
            // Built off the loop (NodeLists); the chain check here spares
            // the worker the unknown ones.
            guard view.peersByChain[genesis] != nil else { throw APIError(404, "unknown chain") }
            lists.body(of: NodeLists.Variant(genesis: genesis, online: online, order: order)) { body in
                respond(body.map { .json(shared: $0) } ?? .error(404, "unknown chain"))
            }
        }
        router.addAPI("GET", "/chains/{genesis_hash}/blocks") { (request, respond) throws(APIError) in
            let genesis = try PathArguments.string(request, "genesis_hash")
            let arguments = QueryArguments(request)
            let parameters: [PGParameter] = [
                .text(genesis),
                .text(try arguments.timestamp("start_time")),
                .text(try arguments.timestamp("end_time")),
                .int64(try arguments.integer("limit", default: 100, in: 1...10_000)),
                .bool(view.peersByChain[genesis] != nil),
            ]
            database.respondWithJSON(NetworkAPI.blocksSQL, parameters, route: "/chains/{genesis_hash}/blocks",
                                     whenNoRow: .error(404, "unknown chain"), respond)
        }
        router.addAPI("GET", "/nodes/{peer_id}/state") { (request, respond) throws(APIError) in
            let peerID = try PathArguments.string(request, "peer_id")
            guard let node = view.nodes[peerID] else { throw APIError(404, "unknown node") }
            let now = NetworkTime.nowMs()
            var json = JSONWriter()
            NetworkJSON.node(node, members: view.members(of: node), chain: node.genesisHash.flatMap { view.summary(of: $0, nowMs: now) },
                             nowMs: now, rules: view.options.rules, into: &json)
            respond(.json(body: json.bytes))
        }
        router.addAPI("GET", "/nodes/{peer_id}/series") { (request, respond) throws(APIError) in
            try series(request, respond)
        }
        router.addAPI("GET", "/chains/{genesis_hash}/series") { (request, respond) throws(APIError) in
            try chainSeries(request, respond)
        }
    }

    // MARK: Live

    private func chains() -> [UInt8] {
        let now = NetworkTime.nowMs()
        let summaries = view.summaries(nowMs: now).values.sorted {
            ($1.nodesOnline, $0.name ?? "", $0.genesisHash) < ($0.nodesOnline, $1.name ?? "", $1.genesisHash)
        }
        var json = JSONWriter()
        json.beginArray()
        for summary in summaries {
            json.beginObject()
            NetworkJSON.chainFields(summary, nowMs: now, into: &json)
            json.endObject()
        }
        json.endArray()
        return json.bytes
    }

    private func chain(_ genesis: String) -> [UInt8]? {
        let now = NetworkTime.nowMs()
        guard let summary = view.summary(of: genesis, nowMs: now) else { return nil }
        refreshCache(now)
        let cacheKey = "chain|\(genesis)"
        if let body = cache.bodies[cacheKey] { return body }
        var json = JSONWriter()
        json.beginObject()
        NetworkJSON.chainFields(summary, nowMs: now, into: &json)
        json.key("distributions")
        NetworkJSON.distributions(Distributions.compute(view.nodes(of: genesis)), into: &json)
        json.endObject()
        if cache.bodies.count < 64 { cache.bodies[cacheKey] = json.bytes }
        return json.bytes
    }

    /// Bodies are kept while the view has not changed, for a second at most.
    private func refreshCache(_ now: Int64) {
        if cache.key?.generation != view.generation || cache.key?.second != now / 1000 {
            cache.key = (view.generation, now / 1000)
            cache.bodies = [:]
        }
    }

    // MARK: History

    /// The chain over a past window: the nodes seen in it and their
    /// composition, from the sessions (each peer's latest connection that
    /// overlaps the window).
    private func chainWindow(_ genesis: String, start: String?, end: String?,
                             _ respond: @escaping (HTTPResponse) -> Void) throws(APIError) {
        let now = NetworkTime.nowMs()
        let endMs = try end.map { text throws(APIError) in
            guard let ms = NetworkTime.parse(text) else { throw .badRequest("parameter 'end_time' is out of range") }
            return ms
        } ?? now
        let startMs = try start.map { text throws(APIError) in
            guard let ms = NetworkTime.parse(text) else { throw .badRequest("parameter 'start_time' is out of range") }
            return ms
        } ?? endMs - 86_400_000
        // Its two statements and the answer built on the loop hold one slot.
        database.gate.admit(respond) { respond in
            self.queryWindow(genesis, startMs: startMs, endMs: endMs, nowMs: now, respond)
        }
    }

    private func queryWindow(_ genesis: String, startMs: Int64, endMs: Int64, nowMs now: Int64,
                             _ respond: @escaping (HTTPResponse) -> Void) {
        // A window that ends before it starts holds no node.
        let live = view.summary(of: genesis, nowMs: now)
        let logger = database.logger
        // Reads, both from the same server (the replica while it is usable).
        let queue = database.reads.queue
        let rules = view.options.rules
        let failed = { (error: PGError) in
            logger.error("API query failed", metadata: ["route": "/chains/{genesis_hash}", "error": "\(error)"])
            respond(.error(500, "database error"))
        }
        queue.submit(StatementQueue.Job(sql: NetworkAPI.windowSQL, parameters: [.text(genesis), .int64(startMs), .int64(endMs)]) { result in
            guard case .success(let rows) = result else {
                if case .failure(let error) = result { failed(error) }
                return
            }
            let nodes = (0..<rows.count).compactMap { NetworkAPI.sessionNode(rows, $0) }
            queue.submit(StatementQueue.Job(sql: NetworkAPI.windowBlocksSQL,
                                            parameters: [.text(genesis), .int64(startMs), .int64(endMs)]) { result in
                guard case .success(let blockRows) = result else {
                    if case .failure(let error) = result { failed(error) }
                    return
                }
                var blocks = ChainBlocks()
                var newest: (height: Int64, hash: String?)?
                var seen: Int64 = 0
                for row in 0..<blockRows.count {
                    guard let height = blockRows.int64(row, 0), let firstSeen = blockRows.int64(row, 2) else { continue }
                    blocks.add(height: height, firstSeenMs: firstSeen)
                    if height > (newest?.height ?? Int64.min) { newest = (height, blockRows.string(row, 1)) }
                    seen = blockRows.int64(row, 3) ?? 0
                }
                guard live != nil || !nodes.isEmpty || newest != nil else { return respond(.error(404, "unknown chain")) }
                var summary = live ?? ChainSummary.summarize(genesisHash: genesis, nodes: nodes, blocks: nil, nowMs: now, rules: rules)
                if live == nil {
                    summary.nodesOnline = 0
                    summary.nodesTotal = 0
                    summary.nodesStale = 0
                }
                var json = JSONWriter()
                json.beginObject()
                NetworkJSON.chainFields(summary, nowMs: now, into: &json)
                json.key("window")
                json.beginObject()
                json.field("start_time", NetworkTime.format(startMs))
                json.field("end_time", NetworkTime.format(endMs))
                json.field("nodes", nodes.count)
                json.field("blocks", seen)
                json.field("best_height", newest?.height)
                json.field("best_hash", newest?.hash)
                json.field("last_block_at", timestampMs: blocks.newest?.firstSeenMs)
                json.field("average_block_time_ms", blocks.averageBlockTimeMs())
                json.endObject()
                json.key("distributions")
                NetworkJSON.distributions(Distributions.compute(nodes), into: &json)
                json.endObject()
                respond(.json(body: json.bytes))
            }, priority: .urgent)
        }, priority: .urgent)
    }

    /// The chain's blocks as of the window's end ($3): the 51 newest heights
    /// first seen by then (height, hash first seen, first sighting in ms),
    /// each with the number of heights first seen within the window.
    static let windowBlocksSQL = """
        WITH top AS (SELECT height FROM network_block_propagation \
                     WHERE genesis_hash = $1 AND first_seen <= \(NetworkTime.sqlTimestamp("$3::bigint")) \
                     ORDER BY first_seen DESC LIMIT 1), \
        heights AS (SELECT height, (array_agg(hash ORDER BY first_seen))[1] AS hash, min(first_seen) AS seen \
                    FROM network_block_propagation \
                    WHERE genesis_hash = $1 AND height BETWEEN (SELECT height FROM top) - 50 AND (SELECT height FROM top) \
                      AND first_seen <= \(NetworkTime.sqlTimestamp("$3::bigint")) \
                    GROUP BY height) \
        SELECT height, hash, \(NetworkTime.sqlMs("seen")), \
               (SELECT count(DISTINCT height) FROM network_block_propagation \
                WHERE genesis_hash = $1 AND first_seen > \(NetworkTime.sqlTimestamp("$2::bigint")) \
                  AND first_seen <= \(NetworkTime.sqlTimestamp("$3::bigint"))) \
        FROM heights
        """

    static let windowSQL = """
        SELECT DISTINCT ON (peer_id) peer_id, chain, name, implementation, version, target_os, target_arch, target_env, \
               cpu, memory, core_count, linux_kernel, linux_distro, is_virtual_machine::text, cpu_hashrate_score, \
               parallel_cpu_hashrate_score, memory_memcpy_score, disk_sequential_write_score, disk_random_write_score, \
               \(NetworkTime.sqlMs("connected_at")) \
        FROM network_node_sessions \
        WHERE genesis_hash = $1 AND connected_at < \(NetworkTime.sqlTimestamp("$3::bigint")) \
          AND last_seen_at >= \(NetworkTime.sqlTimestamp("$2::bigint")) \
        ORDER BY peer_id, connected_at DESC
        """

    static func sessionNode(_ rows: PGRows, _ row: Int) -> NodeState? {
        guard let peerID = rows.string(row, 0), let connectedAt = rows.int64(row, 19) else { return nil }
        var identity = NodeIdentity(peerID: peerID, name: rows.string(row, 2), chain: rows.string(row, 1),
                                    implementation: rows.string(row, 3), version: rows.string(row, 4),
                                    os: rows.string(row, 5), arch: rows.string(row, 6), env: rows.string(row, 7))
        identity.system = SystemInfo(cpu: rows.string(row, 8), memory: rows.int64(row, 9), coreCount: rows.int64(row, 10),
                                     linuxKernel: rows.string(row, 11), linuxDistro: rows.string(row, 12),
                                     isVirtualMachine: NodeRowReader.bool(rows.string(row, 13)))
        var node = NodeState(identity: identity, connectedAtMs: connectedAt)
        node.hardware = HardwareScores(cpuHashrate: rows.int64(row, 14), parallelCPUHashrate: rows.int64(row, 15),
                                       memoryMemcpy: rows.int64(row, 16), diskSequentialWrite: rows.int64(row, 17),
                                       diskRandomWrite: rows.int64(row, 18))
        node.online = false
        return node
    }

    /// Blocks of the chain newest first ($1 genesis, $2 after, $3 before
    /// (default now), $4 limit); no row when the chain is unknown ($5: the
    /// view knows it).
    static let blocksSQL = """
        SELECT CASE WHEN $5::boolean OR EXISTS (SELECT 1 FROM network_block_propagation WHERE genesis_hash = $1) \
                    OR EXISTS (SELECT 1 FROM network_node_sessions WHERE genesis_hash = $1) THEN \
               coalesce((SELECT json_agg(json_build_object( \
                   'height', b.height, 'hash', b.hash, 'first_seen', \(APITime.sql("b.first_seen")), \
                   'first_peer_id', b.first_peer_id, 'nodes', b.nodes, 'propagation_p50_ms', b.propagation_p50_ms, \
                   'propagation_p90_ms', b.propagation_p90_ms, 'propagation_p99_ms', b.propagation_p99_ms, \
                   'propagation_max_ms', b.propagation_max_ms) ORDER BY b.height DESC, b.first_seen DESC, b.hash) \
                 FROM (SELECT * FROM network_block_propagation \
                       WHERE genesis_hash = $1 AND ($2::timestamp IS NULL OR first_seen > $2::timestamp) \
                         AND first_seen < coalesce($3::timestamp, now() AT TIME ZONE 'utc') \
                       ORDER BY height DESC, first_seen DESC LIMIT $4) b), '[]')::text END
        """

    // MARK: Series

    enum SeriesMetric: String, CaseIterable {
        case best_lag, finality_lag, peers, txcount, block_time_ms, bandwidth_download, bandwidth_upload, online
    }

    /// Most steps an `online` answer holds (it lists every step).
    static let maxSteps: Int64 = 10_000
    /// Steps of an answer without `step`: a day at one minute.
    static let defaultSteps: Int64 = 1440

    private func series(_ request: HTTPRequest, _ respond: @escaping (HTTPResponse) -> Void) throws(APIError) {
        let peerID = try PathArguments.string(request, "peer_id")
        let arguments = QueryArguments(request)
        let allowed = SeriesMetric.allCases.map(\.rawValue).joined(separator: ", ")
        guard let metric = SeriesMetric(rawValue: try arguments.requiredString("metric")) else {
            throw .badRequest("parameter 'metric' must be one of \(allowed)")
        }
        let window = try SeriesWindow(arguments, seriesStepS: seriesStepS)
        let (startMs, endMs, step) = (window.startMs, window.endMs, window.step)
        // A window that ends before it starts is empty. `online` lists
        // every step, so at most the last maxSteps of them.
        let firstMs = metric == .online ? max(startMs, endMs - NetworkAPI.maxSteps * step * 1000) : startMs
        var parameters: [PGParameter] = [.text(peerID), .int64(firstMs), .int64(endMs), .int64(step)]
        if metric == .online { parameters.append(.int64(seriesStepS)) }
        database.respondWithJSON(metric == .online ? NetworkAPI.onlineSQL : NetworkAPI.seriesSQL(column: metric.rawValue),
                                 parameters, route: "/nodes/{peer_id}/series", whenNoRow: .error(404, "unknown node"), respond)
    }

    /// Steps aligned on the Unix epoch: a step starts at a multiple of $4 s.
    static let stepStart = "to_timestamp(floor(extract(epoch FROM s.at) / $4::bigint) * $4::bigint) AT TIME ZONE 'utc'"

    /// min/avg/max per step of one stored column (`column` is one of
    /// SeriesMetric's names, never request text). No row: unknown node.
    static func seriesSQL(column: String) -> String {
        """
        WITH node AS (SELECT id FROM network_node_ids WHERE peer_id = $1) \
        SELECT CASE WHEN EXISTS (SELECT 1 FROM node) THEN \
               coalesce((SELECT json_agg(json_build_object('time', \(APITime.sql("t.step")), 'min', t.low, 'avg', t.mean, \
                         'max', t.high) ORDER BY t.step) \
                 FROM (SELECT \(stepStart) AS step, min(s.\(column)) AS low, avg(s.\(column))::float8 AS mean, \
                              max(s.\(column)) AS high \
                       FROM network_node_series s \
                       WHERE s.node_id = (SELECT id FROM node) \
                         AND s.at >= \(NetworkTime.sqlTimestamp("$2::bigint")) AND s.at < \(NetworkTime.sqlTimestamp("$3::bigint")) \
                         AND s.\(column) IS NOT NULL \
                       GROUP BY 1) t), '[]')::text END
        """
    }

    /// Online as the share of each step the node had history rows for
    /// (one per NETWORK_SERIES_STEP_S, $5): every step of the window, 0
    /// when it was offline throughout.
    static let onlineSQL = """
        WITH node AS (SELECT id FROM network_node_ids WHERE peer_id = $1), \
        steps AS (SELECT generate_series(to_timestamp(floor($2::bigint / 1000.0 / $4::bigint) * $4::bigint) AT TIME ZONE 'utc', \
                                         \(NetworkTime.sqlTimestamp("$3::bigint - 1")), make_interval(secs => $4::bigint)) AS step), \
        counted AS (SELECT \(stepStart) AS step, count(*) AS n FROM network_node_series s \
                    WHERE s.node_id = (SELECT id FROM node) \
                      AND s.at >= \(NetworkTime.sqlTimestamp("$2::bigint")) AND s.at < \(NetworkTime.sqlTimestamp("$3::bigint")) \
                    GROUP BY 1) \
        SELECT CASE WHEN EXISTS (SELECT 1 FROM node) THEN \
               coalesce((SELECT json_agg(json_build_object('time', \(APITime.sql("steps.step")), \
                         'min', CASE WHEN coalesce(c.n, 0) * $5::bigint >= $4::bigint THEN 1 ELSE 0 END, \
                         'avg', least(1.0, coalesce(c.n, 0) * $5::bigint / $4::bigint::float8), \
                         'max', CASE WHEN coalesce(c.n, 0) > 0 THEN 1 ELSE 0 END) ORDER BY steps.step) \
                 FROM steps LEFT JOIN counted c USING (step)), '[]')::text END
        """
}
