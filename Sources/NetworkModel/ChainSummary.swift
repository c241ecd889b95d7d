/// When a node counts as offline and as stale.
package struct LivenessRules: Sendable, Equatable {
    /// A node silent this long is offline (NODE_ID_IDLE_S).
    package var idleMs: Int64
    /// A node whose best has not risen this long, while its chain's has, is
    /// stale (NETWORK_STALE_S).
    package var staleAfterMs: Int64

    package init(idleMs: Int64, staleAfterMs: Int64 = 120_000) {
        self.idleMs = idleMs
        self.staleAfterMs = staleAfterMs
    }
}

/// The first sighting of each recent height of one chain (the earliest of
/// its blocks when a height has several), for block times.
package struct ChainBlocks: Sendable, Equatable {
    /// Heights kept: the newest ones.
    package static let capacity = 64
    package private(set) var firstSeenMs: [Int64: Int64] = [:]

    package init() {}

    package mutating func add(height: Int64, firstSeenMs at: Int64) {
        firstSeenMs[height] = min(firstSeenMs[height] ?? Int64.max, at)
        if firstSeenMs.count > ChainBlocks.capacity * 2 {
            let keep = Set(firstSeenMs.keys.sorted(by: >).prefix(ChainBlocks.capacity))
            firstSeenMs = firstSeenMs.filter { keep.contains($0.key) }
        }
    }

    package var newest: (height: Int64, firstSeenMs: Int64)? {
        firstSeenMs.max { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Mean time per block over the last `blocks` heights: from the first
    /// sighting of the oldest height kept in that range to that of the
    /// newest, divided by the heights between them. nil with fewer than two
    /// heights.
    package func averageBlockTimeMs(over blocks: Int64 = 50) -> Int64? {
        guard let newest else { return nil }
        let oldest = firstSeenMs.filter { $0.key >= newest.height - blocks && $0.key < newest.height }.min { $0.key < $1.key }
        guard let oldest, newest.firstSeenMs >= oldest.value else { return nil }
        return (newest.firstSeenMs - oldest.value) / (newest.height - oldest.key)
    }
}

/// A chain's best block and when the chain reached it, from its nodes'
/// bests: the highest, at the earliest time a node reported it, or its
/// first sighting when that is known and earlier.
package struct ChainBest: Sendable, Equatable {
    package private(set) var best: BlockRef?
    package private(set) var bestAtMs: Int64?

    package init() {}

    /// One node's best and when the node reached it.
    package mutating func add(_ nodeBest: BlockRef?, reachedAtMs: Int64?) {
        guard let nodeBest else { return }
        if nodeBest.height > (best?.height ?? Int64.min) {
            best = nodeBest
            bestAtMs = reachedAtMs
        } else if nodeBest.height == best?.height, let at = reachedAtMs, at < (bestAtMs ?? Int64.max) {
            best = nodeBest
            bestAtMs = at
        }
    }

    /// After every node: the best height's first sighting, if earlier.
    package mutating func settle(with blocks: ChainBlocks?) {
        if let height = best?.height, let seen = blocks?.firstSeenMs[height] {
            bestAtMs = min(bestAtMs ?? seen, seen)
        }
    }
}

/// One chain, keyed by genesis hash, at one moment.
package struct ChainSummary: Sendable, Equatable {
    package var genesisHash: String
    /// The chain-spec name most of its nodes report (ties: the first in
    /// byte order); nil when none reports one.
    package var name: String?
    /// The highest best any node reports.
    package var best: BlockRef?
    /// When the chain reached that height: its first sighting.
    package var bestAtMs: Int64?
    /// The highest finalized block any node reports.
    package var finalized: BlockRef?
    package var finalityLagBlocks: Int64?
    /// From the first sighting of the finalized height to that of the best
    /// height; nil unless both were seen.
    package var finalityLagMs: Int64?
    package var averageBlockTimeMs: Int64?
    package var nodesOnline = 0
    package var nodesStale = 0
    package var nodesTotal = 0

    package init(genesisHash: String) {
        self.genesisHash = genesisHash
    }

    /// Summarises `nodes` (every node of the chain the caller knows,
    /// online or not) and `blocks` at `nowMs`. An array, not any collection:
    /// generic code across the module boundary copied every node (a retain
    /// per string) where this reads its fields in place.
    package static func summarize(genesisHash: String, nodes: [NodeState], blocks: ChainBlocks?,
                                  nowMs: Int64, rules: LivenessRules) -> ChainSummary {
        var summary = ChainSummary(genesisHash: genesisHash)
        var names: [String: Int] = [:]
        var chainBest = ChainBest()
        for node in nodes {
            if let name = node.identity.chain { names[name, default: 0] += 1 }
            chainBest.add(node.best, reachedAtMs: node.bestAtMs)
            if let finalized = node.finalized, finalized.height > (summary.finalized?.height ?? Int64.min) {
                summary.finalized = finalized
            }
        }
        summary.name = names.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key
        chainBest.settle(with: blocks)
        summary.best = chainBest.best
        summary.bestAtMs = chainBest.bestAtMs
        if let best = summary.best, let finalized = summary.finalized {
            summary.finalityLagBlocks = max(0, best.height - finalized.height)
            if let bestSeen = blocks?.firstSeenMs[best.height], let finalizedSeen = blocks?.firstSeenMs[finalized.height] {
                summary.finalityLagMs = max(0, bestSeen - finalizedSeen)
            }
        }
        summary.averageBlockTimeMs = blocks?.averageBlockTimeMs()
        for node in nodes {
            summary.nodesTotal += 1
            if node.isOnline(nowMs: nowMs, idleMs: rules.idleMs) { summary.nodesOnline += 1 }
            if summary.isStale(node, nowMs: nowMs, rules: rules) { summary.nodesStale += 1 }
        }
        return summary
    }

    /// The chain's last block: when its best height was first seen.
    package var lastBlockAtMs: Int64? { bestAtMs }

    package func isStale(_ node: NodeState, nowMs: Int64, rules: LivenessRules) -> Bool {
        node.isStale(chainBestAtMs: bestAtMs, nowMs: nowMs, idleMs: rules.idleMs, staleAfterMs: rules.staleAfterMs)
    }
}
