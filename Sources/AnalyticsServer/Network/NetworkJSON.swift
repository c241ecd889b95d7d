import NetworkModel

/// The JSON of nodes, chains and blocks, shared by the network API and
/// the subscription (docs/network.md describes every field).
enum NetworkJSON {
    /// One node as the API shows it. `chain` gives its chain's best and best
    /// time (for the lag and staleness); nil when its chain is unknown.
    /// `members` is the node's `nodeMembers` when the caller keeps them
    /// (NetworkView.members(of:)); they are made here otherwise.
    static func node(_ node: NodeState, members: [UInt8]? = nil, chain: ChainSummary?, nowMs: Int64, rules: LivenessRules,
                     into json: inout JSONWriter) {
        json.beginObject()
        json.field("online", node.isOnline(nowMs: nowMs, idleMs: rules.idleMs))
        json.field("stale", chain?.isStale(node, nowMs: nowMs, rules: rules) ?? false)
        json.field("best_lag", node.lag(behind: chain?.best?.height))
        json.field("uptime_s", node.identity.startupTimeMs.map { max(0, (nowMs - $0) / 1000) })
        json.rawMembers(members ?? nodeMembers(node))
        json.endObject()
    }

    /// The members of a node's object that depend on the node alone (not
    /// on the time or its chain), without the braces: encoded once per
    /// change of the node, not once per request.
    static func nodeMembers(_ node: NodeState) -> [UInt8] {
        let identity = node.identity, system = identity.system, hardware = node.hardware
        var json = JSONWriter(capacity: 1024)
        json.beginObject()
        json.field("peer_id", identity.peerID)
        json.field("name", identity.name)
        json.field("chain", identity.chain)
        json.field("genesis_hash", identity.genesisHash)
        json.field("implementation", identity.implementation)
        json.field("version", identity.version)
        json.field("os", identity.os)
        json.field("arch", identity.arch)
        json.field("env", identity.env)
        json.field("authority", identity.authority)
        json.field("connected_at", timestampMs: node.connectedAtMs)
        json.field("last_seen", timestampMs: node.lastMessageAtMs)
        json.field("startup_time", identity.startupTimeMs)
        json.field("best_height", node.best?.height)
        json.field("best_hash", node.best?.hash)
        json.field("best_at", timestampMs: node.bestAtMs)
        json.field("finalized_height", node.finalized?.height)
        json.field("finalized_hash", node.finalized?.hash)
        json.field("finality_lag", node.finalityLag)
        json.field("block_time_ms", node.blockTimeMs)
        json.field("propagation_ms", node.propagationMs)
        json.field("peers", node.peers)
        json.field("txcount", node.transactions)
        json.field("bandwidth_download", node.bandwidthDownload)
        json.field("bandwidth_upload", node.bandwidthUpload)
        json.field("state_cache_size", node.stateCacheSize)
        json.key("sysinfo")
        json.beginObject()
        json.field("cpu", system.cpu)
        json.field("memory", system.memory)
        json.field("core_count", system.coreCount)
        json.field("linux_kernel", system.linuxKernel)
        json.field("linux_distro", system.linuxDistro)
        json.field("is_virtual_machine", system.isVirtualMachine)
        json.endObject()
        json.key("hwbench")
        json.beginObject()
        json.field("cpu_hashrate_score", hardware.cpuHashrate)
        json.field("parallel_cpu_hashrate_score", hardware.parallelCPUHashrate)
        json.field("memory_memcpy_score", hardware.memoryMemcpy)
        json.field("disk_sequential_write_score", hardware.diskSequentialWrite)
        json.field("disk_random_write_score", hardware.diskRandomWrite)
        json.endObject()
        json.endObject()
        return Array(json.bytes.dropFirst().dropLast())
    }

    /// The fields of one chain, inside an object the caller opened.
    static func chainFields(_ chain: ChainSummary, nowMs: Int64, into json: inout JSONWriter) {
        json.field("genesis_hash", chain.genesisHash)
        json.field("name", chain.name)
        json.field("best_height", chain.best?.height)
        json.field("best_hash", chain.best?.hash)
        json.field("finalized_height", chain.finalized?.height)
        json.field("finalized_hash", chain.finalized?.hash)
        json.field("finality_lag_blocks", chain.finalityLagBlocks)
        json.field("finality_lag_ms", chain.finalityLagMs)
        json.field("nodes_online", chain.nodesOnline)
        json.field("nodes_stale", chain.nodesStale)
        json.field("nodes_total", chain.nodesTotal)
        json.field("average_block_time_ms", chain.averageBlockTimeMs)
        json.field("last_block_at", timestampMs: chain.lastBlockAtMs)
        json.field("ms_since_last_block", chain.lastBlockAtMs.map { max(0, nowMs - $0) })
    }

    static func distributions(_ distributions: [Distribution], into json: inout JSONWriter) {
        json.beginObject()
        for distribution in distributions {
            json.key(distribution.name)
            json.beginArray()
            for entry in distribution.entries {
                json.beginObject()
                json.field("label", entry.label)
                json.field("count", entry.count)
                json.endObject()
            }
            json.endArray()
        }
        json.endObject()
    }
}

/// How the node list is ordered (`sort`): a field, ascending, or
/// descending with a leading `-`. Nodes without the field come last.
struct NodeOrder: Hashable, Sendable {
    enum Field: String, CaseIterable, Sendable {
        /// The reference server's: not stale first, then best height
        /// descending, then propagation time ascending.
        case `default`
        case name, best_height, finalized_height, propagation_ms, block_time_ms, peers, txcount, last_seen, version, uptime_s
    }

    let field: Field
    let descending: Bool

    static let allowed = Field.allCases.map(\.rawValue).joined(separator: ", ")

    init?(_ text: String) {
        let descending = text.hasPrefix("-")
        guard let field = Field(rawValue: descending ? String(text.dropFirst()) : text), !(descending && field == .default)
        else { return nil }
        self.field = field
        self.descending = descending
    }

    init() {
        field = .default
        descending = false
    }

    /// The order of `nodes` as indices into it; `stale[i]` tells node i's
    /// staleness (default order). Only indices are sorted: no key is moved.
    func order(_ nodes: [NodeSortKeys], stale: [Bool], nowMs: Int64) -> [Int] {
        let names = nodes.map { ($0.name ?? "", $0.peerID) }
        // Known values in the chosen direction, unknown ones last, ties by name.
        func by<Key: Comparable>(_ key: (NodeSortKeys) -> Key?) -> [Int] {
            let keys = nodes.map(key)
            return nodes.indices.sorted { a, b in
                switch (keys[a], keys[b]) {
                case let (x?, y?) where x != y: return descending ? x > y : x < y
                case (.some, nil): return true
                case (nil, .some): return false
                default: return names[a] < names[b]
                }
            }
        }
        switch field {
        case .default:
            let keys = nodes.indices.map { index in
                (stale[index] ? 1 : 0, -(nodes[index].bestHeight ?? -1), nodes[index].propagationMs ?? Int64.max)
            }
            return nodes.indices.sorted { a, b in
                keys[a] != keys[b] ? keys[a] < keys[b] : names[a] < names[b]
            }
        case .name: return by(\.name)
        case .version: return by(\.version)
        case .best_height: return by(\.bestHeight)
        case .finalized_height: return by(\.finalizedHeight)
        case .propagation_ms: return by(\.propagationMs)
        case .block_time_ms: return by(\.blockTimeMs)
        case .peers: return by(\.peers)
        case .txcount: return by(\.transactions)
        case .last_seen: return by(\.lastSeenMs)
        case .uptime_s: return by { $0.startupTimeMs.map { nowMs - $0 } }
        }
    }
}

/// What the node list's orders read of a node: taken once per change of
/// the node, so sorting copies a few fields, not whole node states.
struct NodeSortKeys {
    let name: String?
    let peerID: String
    let version: String?
    let bestHeight: Int64?
    let finalizedHeight: Int64?
    let propagationMs: Int64?
    let blockTimeMs: Int64?
    let peers: Int64?
    let transactions: Int64?
    let lastSeenMs: Int64?
    let startupTimeMs: Int64?

    init(_ node: NodeState) {
        name = node.identity.name
        peerID = node.identity.peerID
        version = node.identity.version
        bestHeight = node.best?.height
        finalizedHeight = node.finalized?.height
        propagationMs = node.propagationMs
        blockTimeMs = node.blockTimeMs
        peers = node.peers
        transactions = node.transactions
        lastSeenMs = node.lastMessageAtMs
        startupTimeMs = node.identity.startupTimeMs
    }
}
