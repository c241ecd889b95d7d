/// One node as the server knows it: identity, liveness, blocks and
/// counters. Times are Unix milliseconds on the server's receive clock.
///
/// The rules follow the reference live server where it has one: the best
/// and finalized blocks only move up (a re-org at the same height changes
/// nothing here, though `apply` reports it so that the fork's block is
/// still counted), and a node's block time is the time between two rises
/// of its best.
package struct NodeState: Sendable, Equatable {
    package var identity: NodeIdentity
    package var hardware = HardwareScores()
    /// The connection is open. `isOnline` also asks that it spoke recently.
    package var online = true
    package var connectedAtMs: Int64
    package var lastMessageAtMs: Int64
    package var best: BlockRef?
    /// When the best block reached its current height.
    package var bestAtMs: Int64?
    package var finalized: BlockRef?
    /// Between the last two rises of the best block.
    package var blockTimeMs: Int64?
    /// How long after the block was first seen (by any node) this node
    /// imported its current best; nil when unknown (the best came from an
    /// interval message, during initial sync, or outside the window).
    package var propagationMs: Int64?
    package var peers: Int64?
    package var transactions: Int64?
    package var bandwidthDownload: Int64?
    package var bandwidthUpload: Int64?
    package var stateCacheSize: Int64?

    package init(identity: NodeIdentity, connectedAtMs: Int64) {
        self.identity = identity
        self.connectedAtMs = connectedAtMs
        lastMessageAtMs = connectedAtMs
    }

    package var genesisHash: String? { identity.genesisHash }

    /// What a report changed.
    package struct Change: OptionSet, Sendable {
        package let rawValue: Int
        package init(rawValue: Int) { self.rawValue = rawValue }

        /// The best block rose: a new height.
        package static let bestRaised = Change(rawValue: 1 << 0)
        /// Another block at the best height: a fork or re-org. The node's
        /// best stays; the block is counted as imported.
        package static let bestForked = Change(rawValue: 1 << 1)
        package static let finalizedRaised = Change(rawValue: 1 << 2)
        /// Peers, transactions, bandwidth or state cache size.
        package static let counters = Change(rawValue: 1 << 3)
        package static let identity = Change(rawValue: 1 << 4)
        package static let hardware = Change(rawValue: 1 << 5)

        /// Anything a reader of the node's state would see, besides when it
        /// last spoke.
        package static let visible: Change = [.bestRaised, .finalizedRaised, .counters, .identity, .hardware]
    }

    /// Applies one message received at `atMs`.
    @discardableResult
    package mutating func apply(_ report: NodeReport, atMs: Int64) -> Change {
        var change: Change = []
        lastMessageAtMs = max(lastMessageAtMs, atMs)
        if var identity = report.identity {
            identity.splitTargetFromVersion()
            if identity != self.identity {
                self.identity = identity
                change.insert(.identity)
            }
        }
        if let block = report.best {
            change.formUnion(applyBest(block, atMs: atMs))
        }
        if let block = report.finalized, block.height > (finalized?.height ?? Int64.min) {
            finalized = block
            change.insert(.finalizedRaised)
        } else if let block = report.finalized, block.height == finalized?.height, finalized?.hash == nil, block.hash != nil {
            finalized = block
            change.insert(.finalizedRaised)
        }
        if update(&peers, report.peers) { change.insert(.counters) }
        if update(&transactions, report.transactions) { change.insert(.counters) }
        if update(&bandwidthDownload, report.bandwidthDownload) { change.insert(.counters) }
        if update(&bandwidthUpload, report.bandwidthUpload) { change.insert(.counters) }
        if update(&stateCacheSize, report.stateCacheSize) { change.insert(.counters) }
        if let scores = report.hardware {
            var merged = hardware
            if let value = scores.cpuHashrate { merged.cpuHashrate = value }
            if let value = scores.parallelCPUHashrate { merged.parallelCPUHashrate = value }
            if let value = scores.memoryMemcpy { merged.memoryMemcpy = value }
            if let value = scores.diskSequentialWrite { merged.diskSequentialWrite = value }
            if let value = scores.diskRandomWrite { merged.diskRandomWrite = value }
            if merged != hardware {
                hardware = merged
                change.insert(.hardware)
            }
        }
        return change
    }

    private mutating func applyBest(_ block: BlockRef, atMs: Int64) -> Change {
        guard let current = best else {
            best = block
            bestAtMs = atMs
            propagationMs = nil
            return .bestRaised
        }
        if block.height > current.height {
            if let previous = bestAtMs { blockTimeMs = max(0, atMs - previous) }
            best = block
            bestAtMs = atMs
            propagationMs = nil
            return .bestRaised
        }
        if block.height == current.height, let hash = block.hash, hash != current.hash {
            if current.hash == nil {
                best = block
                return .bestRaised
            }
            return .bestForked
        }
        return []
    }

    private func update(_ field: inout Int64?, _ value: Int64?) -> Bool {
        guard let value, value != field else { return false }
        field = value
        return true
    }

    // MARK: Liveness

    /// The connection is open and the node spoke within `idleMs`
    /// (NODE_ID_IDLE_S): a node silent that long is offline even if its
    /// socket is still open.
    package func isOnline(nowMs: Int64, idleMs: Int64) -> Bool {
        online && nowMs - lastMessageAtMs < idleMs
    }

    /// Stopped importing: online, its best has not risen for `staleAfterMs`,
    /// and its chain's best rose after it last did (`chainBestAtMs`: when
    /// the chain's best last rose). A node on a stalled chain is not stale:
    /// the chain is. A node that never reported a best is not judged.
    package func isStale(chainBestAtMs: Int64?, nowMs: Int64, idleMs: Int64, staleAfterMs: Int64) -> Bool {
        guard isOnline(nowMs: nowMs, idleMs: idleMs), let bestAtMs, let chainBestAtMs else { return false }
        return nowMs - bestAtMs >= staleAfterMs && chainBestAtMs > bestAtMs
    }

    /// How many blocks its best is behind the chain's; nil when unknown.
    package func lag(behind chainBest: Int64?) -> Int64? {
        guard let chainBest, let height = best?.height else { return nil }
        return max(0, chainBest - height)
    }

    /// Its own best minus its own finalized height.
    package var finalityLag: Int64? {
        guard let best, let finalized else { return nil }
        return max(0, best.height - finalized.height)
    }
}
