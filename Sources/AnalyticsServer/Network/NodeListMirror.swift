import NetworkModel

/// What one refresh of a NetworkView changed, as the node-list worker
/// needs it: the new state of every changed node, the peers gone, and the
/// recent blocks of every chain (a copy-on-write value: handing it over
/// copies nothing).
struct NodeListUpdate: Sendable {
    var changed: [NodeState] = []
    var removed: [String] = []
    var blocks: [String: ChainBlocks] = [:]
}

/// The node-list worker's own copy of a view's nodes, by chain, and the
/// bodies of `/chains/{g}/nodes` built from it. It is fed every change the
/// view reads, in order, so after an update it holds what the view held
/// when the update was made, and a body built from it is the one the view
/// would have answered at the same time.
///
/// Lives on the worker's thread only (see NodeLists).
struct NodeListMirror {
    /// A node and its JSON members, encoded when a body first needs them
    /// (once per change of the node). A class so that collecting a chain's
    /// entries for a sort moves references, not node states.
    final class Entry {
        let node: NodeState
        let keys: NodeSortKeys
        private(set) lazy var members: [UInt8] = NetworkJSON.nodeMembers(node)

        init(_ node: NodeState) {
            self.node = node
            keys = NodeSortKeys(node)
        }
    }

    let rules: LivenessRules
    private(set) var chains: [String: [String: Entry]] = [:]
    private var chainOfPeer: [String: String] = [:]
    private var blocks: [String: ChainBlocks] = [:]

    init(rules: LivenessRules) {
        self.rules = rules
    }

    mutating func apply(_ update: NodeListUpdate) {
        for peer in update.removed { remove(peer) }
        for node in update.changed {
            let peer = node.identity.peerID
            let genesis = node.genesisHash
            if chainOfPeer[peer] != genesis { remove(peer) }
            guard let genesis else { continue }
            chainOfPeer[peer] = genesis
            chains[genesis, default: [:]][peer] = Entry(node)
        }
        blocks = update.blocks
    }

    private mutating func remove(_ peer: String) {
        guard let genesis = chainOfPeer.removeValue(forKey: peer) else { return }
        chains[genesis]?[peer] = nil
        if chains[genesis]?.isEmpty == true { chains[genesis] = nil }
    }

    /// The node list of chain `genesis` at `nowMs`, filtered by `online`
    /// and in `order`, exactly as the API answers it; nil for a chain with
    /// no node.
    func body(of genesis: String, online: Bool?, order: NodeOrder, nowMs: Int64) -> [UInt8]? {
        guard let chain = chains[genesis] else { return nil }
        // Every field is read through the entries: no node state is copied.
        var chainBest = ChainBest()
        for entry in chain.values { chainBest.add(entry.node.best, reachedAtMs: entry.node.bestAtMs) }
        chainBest.settle(with: blocks[genesis])
        // What a listed node reads of its chain (ChainSummary.summarize
        // would give the same): the best height, for `best_lag`, and when
        // it was reached, for `stale`.
        var summary = ChainSummary(genesisHash: genesis)
        summary.best = chainBest.best
        summary.bestAtMs = chainBest.bestAtMs
        let rules = rules
        var entries = Array(chain.values)
        if let online { entries.removeAll { $0.node.isOnline(nowMs: nowMs, idleMs: rules.idleMs) != online } }
        let stale = entries.map { summary.isStale($0.node, nowMs: nowMs, rules: rules) }
        let sorted = order.order(entries.map(\.keys), stale: stale, nowMs: nowMs)
        // Members plus the four fields that depend on the time: one
        // allocation for the whole body.
        let size = entries.reduce(2) { $0 + $1.members.count + 96 }
        var json = JSONWriter(capacity: size)
        json.beginArray()
        for index in sorted {
            let entry = entries[index]
            NetworkJSON.node(entry.node, members: entry.members, chain: summary, nowMs: nowMs, rules: rules, into: &json)
        }
        json.endArray()
        return json.bytes
    }
}
