import NetworkModel
import PostgresClient

/// The network state's statements: what the trackers write (node rows,
/// sessions, series steps, block imports) and what the views read back.
/// Rows go as one JSON array parameter per statement
/// (jsonb_to_recordset): one statement per loop per flush, whatever the
/// number of nodes.
enum NetworkStore {
    // MARK: Writes

    /// Identity and state columns of a node row, as jsonb_to_recordset reads
    /// them; `*_ms` columns are Unix milliseconds.
    private static let nodeColumns = """
        peer_id text, peer_connection_id integer, genesis_hash text, chain text, name text, implementation text, \
        version text, target_os text, target_arch text, target_env text, authority boolean, startup_time bigint, \
        cpu text, memory bigint, core_count bigint, linux_kernel text, linux_distro text, is_virtual_machine boolean, \
        cpu_hashrate_score bigint, parallel_cpu_hashrate_score bigint, memory_memcpy_score bigint, \
        disk_sequential_write_score bigint, disk_random_write_score bigint, online boolean, connected_at_ms bigint, \
        last_message_at_ms bigint, best_height bigint, best_hash text, best_at_ms bigint, finalized_height bigint, \
        finalized_hash text, block_time_ms bigint, propagation_ms bigint, peers bigint, txcount bigint, \
        bandwidth_download bigint, bandwidth_upload bigint, state_cache_size bigint
        """

    private static let identityNames = [
        "genesis_hash", "chain", "name", "implementation", "version", "target_os", "target_arch", "target_env", "authority",
        "cpu", "memory", "core_count", "linux_kernel", "linux_distro", "is_virtual_machine", "cpu_hashrate_score",
        "parallel_cpu_hashrate_score", "memory_memcpy_score", "disk_sequential_write_score", "disk_random_write_score",
    ]

    /// Columns written at every write of a node; identityNames only when
    /// the identity changed (the first write, or system.connected or
    /// sysinfo.hwbench again).
    private static let stateNames = [
        "peer_connection_id", "startup_time", "online", "best_height", "best_hash", "finalized_height", "finalized_hash",
        "block_time_ms", "propagation_ms", "peers", "txcount", "bandwidth_download", "bandwidth_upload", "state_cache_size",
    ]

    /// Upserts node rows ($1). A row that goes offline (a closed
    /// connection) changes the stored row only if that connection still
    /// owns it; an online row always wins. A row without its identity
    /// (`with_identity` false) keeps the stored one: most writes are a
    /// node's blocks and counters, and the identity is half of the row.
    /// Peer ids new to the network get their number (network_node_ids).
    ///
    /// The table has a fillfactor of 50 and its identity columns first, so
    /// an update usually stays on its page (no index entry, HOT) and its WAL
    /// record leaves out the unchanged identity (prefix compression).
    static let upsertNodes = """
        WITH input AS (SELECT DISTINCT ON (peer_id) * FROM jsonb_to_recordset($1::jsonb) AS r(\(nodeColumns), with_identity boolean) \
                       ORDER BY peer_id, online DESC, connected_at_ms DESC), \
        ids AS (INSERT INTO network_node_ids (peer_id) SELECT peer_id FROM input WHERE with_identity ON CONFLICT (peer_id) DO NOTHING) \
        INSERT INTO network_nodes AS n (\(identityNames.joined(separator: ", ")), \(stateNames.joined(separator: ", ")), peer_id, \
               connected_at, last_message_at, best_at) \
        SELECT \(identityNames.map { "CASE WHEN i.with_identity THEN i.\($0) ELSE stored.\($0) END" }.joined(separator: ", ")), \
               \(stateNames.map { "i.\($0)" }.joined(separator: ", ")), peer_id, \(NetworkTime.sqlTimestamp("i.connected_at_ms")), \
               \(NetworkTime.sqlTimestamp("i.last_message_at_ms")), \(NetworkTime.sqlTimestamp("i.best_at_ms")) \
        FROM input i LEFT JOIN network_nodes stored USING (peer_id) \
        ON CONFLICT (peer_id) DO UPDATE SET \
        \((identityNames + stateNames).map { "\($0) = excluded.\($0)" }.joined(separator: ", ")), \
        connected_at = excluded.connected_at, last_message_at = excluded.last_message_at, best_at = excluded.best_at, \
        updated_at = now() AT TIME ZONE 'utc', change_xid = pg_current_xact_id() \
        WHERE n.peer_connection_id = excluded.peer_connection_id OR excluded.online
        """

    /// Upserts session rows ($1): identity as connected, and how long seen.
    static let upsertSessions = """
        INSERT INTO network_node_sessions AS s (peer_connection_id, peer_id, \(identityNames.joined(separator: ", ")), \
               connected_at, last_seen_at) \
        SELECT peer_connection_id, peer_id, \(identityNames.joined(separator: ", ")), \
               \(NetworkTime.sqlTimestamp("connected_at_ms")), \(NetworkTime.sqlTimestamp("last_seen_at_ms")) \
        FROM jsonb_to_recordset($1::jsonb) AS r(\(nodeColumns), last_seen_at_ms bigint) \
        ON CONFLICT (peer_connection_id) DO UPDATE SET \
        \(identityNames.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")), \
        last_seen_at = greatest(s.last_seen_at, excluded.last_seen_at)
        """

    /// One JSON object of a node for the two statements above; without
    /// `withIdentity`, the identity is left out (the node statement keeps
    /// the stored one).
    static func encode(_ node: NodeState, peerConnectionID: Int32, withIdentity: Bool = true, lastSeenAtMs: Int64? = nil,
                       into json: inout JSONWriter) {
        let identity = node.identity, system = identity.system, hardware = node.hardware
        json.beginObject()
        json.field("peer_id", identity.peerID)
        json.field("peer_connection_id", Int64(peerConnectionID))
        json.field("startup_time", identity.startupTimeMs)
        json.field("with_identity", withIdentity)
        if withIdentity { encodeIdentity(identity, system, hardware, into: &json) }
        json.field("online", node.online)
        json.field("connected_at_ms", node.connectedAtMs)
        json.field("last_message_at_ms", node.lastMessageAtMs)
        json.field("best_height", node.best?.height)
        json.field("best_hash", node.best?.hash)
        json.field("best_at_ms", node.bestAtMs)
        json.field("finalized_height", node.finalized?.height)
        json.field("finalized_hash", node.finalized?.hash)
        json.field("block_time_ms", node.blockTimeMs)
        json.field("propagation_ms", node.propagationMs)
        json.field("peers", node.peers)
        json.field("txcount", node.transactions)
        json.field("bandwidth_download", node.bandwidthDownload)
        json.field("bandwidth_upload", node.bandwidthUpload)
        json.field("state_cache_size", node.stateCacheSize)
        if let lastSeenAtMs { json.field("last_seen_at_ms", lastSeenAtMs) }
        json.endObject()
    }

    private static func encodeIdentity(_ identity: NodeIdentity, _ system: SystemInfo, _ hardware: HardwareScores,
                                       into json: inout JSONWriter) {
        json.field("genesis_hash", identity.genesisHash)
        json.field("chain", identity.chain)
        json.field("name", identity.name)
        json.field("implementation", identity.implementation)
        json.field("version", identity.version)
        json.field("target_os", identity.os)
        json.field("target_arch", identity.arch)
        json.field("target_env", identity.env)
        json.field("authority", identity.authority)
        json.field("cpu", system.cpu)
        json.field("memory", system.memory)
        json.field("core_count", system.coreCount)
        json.field("linux_kernel", system.linuxKernel)
        json.field("linux_distro", system.linuxDistro)
        json.field("is_virtual_machine", system.isVirtualMachine)
        json.field("cpu_hashrate_score", hardware.cpuHashrate)
        json.field("parallel_cpu_hashrate_score", hardware.parallelCPUHashrate)
        json.field("memory_memcpy_score", hardware.memoryMemcpy)
        json.field("disk_sequential_write_score", hardware.diskSequentialWrite)
        json.field("disk_random_write_score", hardware.diskRandomWrite)
    }

    /// A bigint clamped to an integer column. Not least(): it ignores a
    /// NULL and would store an unknown value as 2147483647.
    private static func toInteger(_ value: String) -> String {
        "(CASE WHEN \(value) > 2147483647 THEN 2147483647 ELSE \(value) END)"
    }

    /// One step of series ($1: rows, $2: the step's start as a UTC
    /// timestamp). A peer id without a number yet gets one here.
    static let insertSeries = """
        WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(peer_id text, best_lag bigint, finality_lag bigint, \
                       peers bigint, txcount bigint, block_time_ms bigint, bandwidth_download bigint, bandwidth_upload bigint)), \
        new_ids AS (INSERT INTO network_node_ids (peer_id) SELECT DISTINCT peer_id FROM input ON CONFLICT (peer_id) DO NOTHING \
                    RETURNING id, peer_id) \
        INSERT INTO network_node_series AS s (node_id, at, best_lag, finality_lag, peers, txcount, block_time_ms, \
               bandwidth_download, bandwidth_upload) \
        SELECT DISTINCT ON (coalesce(known.id, made.id)) coalesce(known.id, made.id), $2::timestamp, \
               \(toInteger("input.best_lag")), \(toInteger("input.finality_lag")), \(toInteger("input.peers")), \
               \(toInteger("input.txcount")), \(toInteger("input.block_time_ms")), \
               \(toInteger("input.bandwidth_download")), \(toInteger("input.bandwidth_upload")) \
        FROM input LEFT JOIN network_node_ids known USING (peer_id) LEFT JOIN new_ids made USING (peer_id) \
        WHERE coalesce(known.id, made.id) IS NOT NULL \
        ON CONFLICT (node_id, at) DO UPDATE SET best_lag = excluded.best_lag, finality_lag = excluded.finality_lag, \
        peers = excluded.peers, txcount = excluded.txcount, block_time_ms = excluded.block_time_ms, \
        bandwidth_download = excluded.bandwidth_download, bandwidth_upload = excluded.bandwidth_upload
        """

    static func encodeStep(_ node: NodeState, chainBest: Int64?, into json: inout JSONWriter) {
        json.beginObject()
        json.field("peer_id", node.identity.peerID)
        json.field("best_lag", node.lag(behind: chainBest))
        json.field("finality_lag", node.finalityLag)
        json.field("peers", node.peers)
        json.field("txcount", node.transactions)
        json.field("block_time_ms", node.blockTimeMs)
        json.field("bandwidth_download", node.bandwidthDownload)
        json.field("bandwidth_upload", node.bandwidthUpload)
        json.endObject()
    }

    /// This loop's imports of blocks ($1), each with all of them, under its
    /// writer id ($2): a repeated write is harmless.
    static let upsertArrivals = """
        INSERT INTO network_block_arrivals (genesis_hash, height, hash, writer, first_seen, first_peer_id, arrivals_ms) \
        SELECT genesis_hash, height, hash, $2, \(NetworkTime.sqlTimestamp("first_seen_ms")), first_peer_id, \
               ARRAY(SELECT jsonb_array_elements_text(arrivals)::integer) \
        FROM jsonb_to_recordset($1::jsonb) AS r(genesis_hash text, height bigint, hash text, first_seen_ms bigint, \
             first_peer_id text, arrivals jsonb) \
        ON CONFLICT (genesis_hash, height, hash, writer) DO UPDATE SET arrivals_ms = excluded.arrivals_ms
        """

    static func encode(_ key: BlockKey, _ record: BlockArrivals.Record, into json: inout JSONWriter) {
        json.beginObject()
        json.field("genesis_hash", key.genesisHash)
        json.field("height", key.height)
        json.field("hash", key.hash)
        json.field("first_seen_ms", record.firstSeenMs)
        json.field("first_peer_id", record.firstPeerID)
        json.key("arrivals")
        json.beginArray()
        for at in record.arrivalsMs { json.value(min(at - record.firstSeenMs, Int64(Int32.max))) }
        json.endArray()
        json.endObject()
    }

    // MARK: Reads

    /// The node rows written since $1 (a pg_snapshot_xmin of the previous
    /// read; '0' the first time), after one row that carries only this
    /// read's xmin. Column order is `NodeRowReader`'s.
    static let changedNodes = """
        WITH snapshot AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin) \
        SELECT (SELECT xmin FROM snapshot), NULL, \(NodeRowReader.nullColumns) \
        UNION ALL \
        SELECT NULL, peer_id, \(NodeRowReader.columns) FROM network_nodes WHERE change_xid >= $1::xid8
        """

    /// Blocks first seen after $1 (Unix ms), as recorded by any loop and
    /// instance: (genesis, height, hash, first seen ms).
    static let recentBlocks = """
        SELECT genesis_hash, height, hash, \(NetworkTime.sqlMs("min(first_seen)")) \
        FROM network_block_arrivals WHERE first_seen > \(NetworkTime.sqlTimestamp("$1::bigint")) \
        GROUP BY genesis_hash, height, hash
        """

    /// The last heights of every chain, for block times after a start:
    /// (genesis, height, hash, first seen ms) of blocks seen within $1 ms.
    static let latestBlocks = """
        SELECT genesis_hash, height, hash, \(NetworkTime.sqlMs("first_seen")) FROM ( \
            SELECT b.*, rank() OVER (PARTITION BY genesis_hash ORDER BY height DESC) AS r \
            FROM network_block_propagation b \
            WHERE first_seen > (now() AT TIME ZONE 'utc') - make_interval(secs => $1::bigint / 1000.0)) b \
        WHERE r <= \(ChainBlocks.capacity)
        """
}

/// Reads node rows of `NetworkStore.changedNodes` back into NodeState.
enum NodeRowReader {
    /// After the xmin and peer_id columns (0 and 1).
    static let columns = """
        genesis_hash, chain, name, implementation, version, target_os, target_arch, target_env, authority::text, \
        startup_time, cpu, memory, core_count, linux_kernel, linux_distro, is_virtual_machine::text, \
        cpu_hashrate_score, parallel_cpu_hashrate_score, memory_memcpy_score, disk_sequential_write_score, \
        disk_random_write_score, online::text, \(NetworkTime.sqlMs("connected_at")), \(NetworkTime.sqlMs("last_message_at")), \
        best_height, best_hash, \(NetworkTime.sqlMs("best_at")), finalized_height, finalized_hash, block_time_ms, \
        propagation_ms, peers, txcount, bandwidth_download, bandwidth_upload, state_cache_size
        """
    static let columnCount = 36
    static let nullColumns = Array(repeating: "NULL", count: columnCount).joined(separator: ", ")

    static func bool(_ text: String?) -> Bool? {
        text.map { $0 == "true" || $0 == "t" }
    }

    /// Row `row` of a `changedNodes` result, or nil for the xmin row or a
    /// row without its required columns.
    static func node(_ rows: PGRows, _ row: Int) -> NodeState? {
        guard let peerID = rows.string(row, 1), let connectedAt = rows.int64(row, 24),
              let lastMessageAt = rows.int64(row, 25) else { return nil }
        var c = 2
        func text() -> String? { defer { c += 1 }; return rows.string(row, c) }
        func number() -> Int64? { defer { c += 1 }; return rows.int64(row, c) }
        var identity = NodeIdentity(peerID: peerID)
        identity.genesisHash = text()
        identity.chain = text()
        identity.name = text()
        identity.implementation = text()
        identity.version = text()
        identity.os = text()
        identity.arch = text()
        identity.env = text()
        identity.authority = bool(text())
        identity.startupTimeMs = number()
        identity.system.cpu = text()
        identity.system.memory = number()
        identity.system.coreCount = number()
        identity.system.linuxKernel = text()
        identity.system.linuxDistro = text()
        identity.system.isVirtualMachine = bool(text())
        var node = NodeState(identity: identity, connectedAtMs: connectedAt)
        node.hardware = HardwareScores(cpuHashrate: number(), parallelCPUHashrate: number(), memoryMemcpy: number(),
                                       diskSequentialWrite: number(), diskRandomWrite: number())
        node.online = bool(text()) ?? false
        c += 2 // connected_at, last_message_at: read above
        node.lastMessageAtMs = lastMessageAt
        let bestHeight = number(), bestHash = text()
        node.best = bestHeight.map { BlockRef(height: $0, hash: bestHash) }
        node.bestAtMs = number()
        let finalizedHeight = number(), finalizedHash = text()
        node.finalized = finalizedHeight.map { BlockRef(height: $0, hash: finalizedHash) }
        node.blockTimeMs = number()
        node.propagationMs = number()
        node.peers = number()
        node.transactions = number()
        node.bandwidthDownload = number()
        node.bandwidthUpload = number()
        node.stateCacheSize = number()
        return node
    }
}
