/// A block of a chain: what propagation is measured for. Two hashes at one
/// height (a fork) are two blocks.
package struct BlockKey: Sendable, Hashable {
    package var genesisHash: String
    package var height: Int64
    package var hash: String

    package init(genesisHash: String, height: Int64, hash: String) {
        self.genesisHash = genesisHash
        self.height = height
        self.hash = hash
    }
}

/// When each recent block was first seen and when each node imported it,
/// as one event loop saw it (the server merges the loops and instances in
/// PostgreSQL).
///
/// An import counts when a node's `block.import` names a block it had not
/// reported before, at or above its best, with an origin other than
/// initial sync, file or genesis, and:
/// - no more than `depth` below the highest height known for the chain
///   (a node catching up reports old blocks; they are not propagation),
/// - within `windowMs` of the block's first sighting.
/// Delays are counted from the earliest sighting known: this loop's own,
/// or one learnt from elsewhere (`learn(firstSeenMs:of:)`).
package struct BlockArrivals: Sendable {
    package struct Record: Sendable, Equatable {
        /// This loop's first sighting.
        package var firstSeenMs: Int64
        package var firstPeerID: String
        /// Import times, one per node, in arrival order (the first is
        /// `firstSeenMs`).
        package var arrivalsMs: [Int64]
        package var peerIDs: Set<String>
        /// Imports not yet handed out by `takeChanged()`.
        package var changed: Bool
    }

    package let windowMs: Int64
    package let depth: Int64
    package private(set) var records: [BlockKey: Record] = [:]
    /// The highest height known per chain (here or elsewhere).
    package private(set) var tips: [String: Int64] = [:]
    /// Earliest sightings learnt from other loops and instances.
    private var learnt: [BlockKey: Int64] = [:]

    package init(windowMs: Int64 = 300_000, depth: Int64 = 16) {
        self.windowMs = windowMs
        self.depth = depth
    }

    /// A node imported `key` at `atMs`. Returns its delay after the
    /// block's earliest known sighting (0 for the first), or nil when the
    /// import is not counted.
    @discardableResult
    package mutating func record(_ key: BlockKey, peerID: String, atMs: Int64) -> Int64? {
        let tip = tips[key.genesisHash]
        if let tip, key.height < tip - depth { return nil }
        if key.height > (tip ?? Int64.min) { tips[key.genesisHash] = key.height }
        let learntFirst = learnt[key]
        if let learntFirst, atMs - learntFirst > windowMs { return nil }
        guard let index = records.index(forKey: key) else {
            records[key] = Record(firstSeenMs: atMs, firstPeerID: peerID, arrivalsMs: [atMs], peerIDs: [peerID], changed: true)
            return learntFirst.map { max(0, atMs - $0) } ?? 0
        }
        // In place: a copy of the record would copy its thousands of imports
        // at every import.
        let first = min(records.values[index].firstSeenMs, learntFirst ?? Int64.max)
        guard atMs - first <= windowMs, records.values[index].peerIDs.insert(peerID).inserted else { return nil }
        records.values[index].arrivalsMs.append(atMs)
        records.values[index].changed = true
        return max(0, atMs - first)
    }

    /// Another loop or instance saw `key` first at `firstSeenMs`.
    package mutating func learn(firstSeenMs: Int64, of key: BlockKey) {
        learnt[key] = min(learnt[key] ?? Int64.max, firstSeenMs)
        if key.height > (tips[key.genesisHash] ?? Int64.min) { tips[key.genesisHash] = key.height }
    }

    /// A chain's best height known elsewhere.
    package mutating func learnTip(_ height: Int64, of genesisHash: String) {
        if height > (tips[genesisHash] ?? Int64.min) { tips[genesisHash] = height }
    }

    /// The earliest sighting known of `key`.
    package func firstSeenMs(of key: BlockKey) -> Int64? {
        let own = records[key]?.firstSeenMs
        switch (own, learnt[key]) {
        case let (own?, other?): return min(own, other)
        case let (own, other): return own ?? other
        }
    }

    /// The blocks with imports not handed out yet, each with all its
    /// imports (so a write of them is idempotent), and marks them handed out.
    package mutating func takeChanged() -> [(key: BlockKey, record: Record)] {
        var changed: [(key: BlockKey, record: Record)] = []
        for index in records.indices where records.values[index].changed {
            records.values[index].changed = false
            changed.append((records.keys[index], records.values[index]))
        }
        return changed
    }

    /// Hands these blocks out again at the next `takeChanged()` (a write of
    /// them failed).
    package mutating func markChanged(_ keys: [BlockKey]) {
        for key in keys where records[key] != nil { records[key]?.changed = true }
    }

    /// Forgets blocks first seen more than the window ago (no import can
    /// count for them any more) that have nothing left to hand out, and
    /// those with imports still not handed out (their writes keep failing)
    /// after a second window: a long database outage must not hold every
    /// block's imports in memory. Returns how many of those were dropped.
    @discardableResult
    package mutating func expire(nowMs: Int64) -> Int {
        var dropped = 0
        records = records.filter { _, record in
            let age = nowMs - record.firstSeenMs
            guard age > windowMs else { return true }
            if record.changed, age <= 2 * windowMs { return true }
            if record.changed { dropped += 1 }
            return false
        }
        learnt = learnt.filter { nowMs - $0.value <= windowMs }
        return dropped
    }
}

/// Propagation of one block: who had it first and how long the others took.
package struct BlockPropagation: Sendable, Equatable {
    package var firstSeenMs: Int64
    package var firstPeerID: String
    /// Nodes that imported it, the first included.
    package var nodes: Int
    /// Delays after the first sighting, nearest rank.
    package var p50Ms: Int64
    package var p90Ms: Int64
    package var p99Ms: Int64
    package var maxMs: Int64

    /// From every node's import time; nil when there is none.
    package init?(imports: [(peerID: String, atMs: Int64)]) {
        guard let first = imports.min(by: { ($0.atMs, $0.peerID) < ($1.atMs, $1.peerID) }) else { return nil }
        let delays = imports.map { $0.atMs - first.atMs }.sorted()
        firstSeenMs = first.atMs
        firstPeerID = first.peerID
        nodes = imports.count
        p50Ms = Percentile.of(50, sorted: delays) ?? 0
        p90Ms = Percentile.of(90, sorted: delays) ?? 0
        p99Ms = Percentile.of(99, sorted: delays) ?? 0
        maxMs = delays.last ?? 0
    }
}
