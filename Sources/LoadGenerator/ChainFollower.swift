/// A synthetic node's view of its chain: the block it imports when the
/// chain's next block reaches it, and its best and finalized blocks for
/// its interval messages. Its best only rises, as a node's does.
package struct ChainFollower {
    package typealias Block = CurrentNodeMessages.Block

    package let chain: SyntheticChain
    package let role: NodeRole
    package private(set) var best: Block
    package private(set) var finalized: Block

    /// Finality trails the node's best by this many blocks.
    package static let finalityLag: UInt64 = 2

    /// `firstBlock`: the first block of the run that reaches the node after
    /// it joined; it holds the one before (less its lag) when it starts.
    package init(chain: SyntheticChain, role: NodeRole, firstBlock: UInt64) {
        self.chain = chain
        self.role = role
        let height = ChainHeight.base + firstBlock - 1 - role.lagBlocks
        best = Block(height: height, hash: chain.blockHash(height: height))
        let final = height - ChainFollower.finalityLag
        finalized = Block(height: final, hash: chain.blockHash(height: final))
    }

    /// Whether the node has stopped importing by `elapsedMs` of the run.
    package func isStalled(elapsedMs: UInt64) -> Bool {
        role.stallAfterMs.map { elapsedMs >= $0 } ?? false
    }

    /// Block `block` of the run reached the node at `elapsedMs`: the block
    /// it imports and the import's origin, when its best rises. A lagging
    /// node imports the block `lagBlocks` behind, as a node still syncing
    /// does (origin NetworkInitialSync, which a server leaves out of
    /// propagation figures); a node of the fork imports the other block at
    /// the fork's height.
    package mutating func blockArrived(_ block: UInt64, elapsedMs: UInt64) -> (block: Block, origin: String)? {
        guard !isStalled(elapsedMs: elapsedMs) else { return nil }
        let height = ChainHeight.base + block - role.lagBlocks
        guard height > best.height else { return nil }
        let forked = role.forkBlock.map { ChainHeight.base + $0 == height } ?? false
        best = Block(height: height, hash: chain.blockHash(height: height, forked: forked))
        return (best, role.lagBlocks > 0 ? "NetworkInitialSync" : "NetworkBroadcast")
    }

    /// Finality reached the node: its new finalized block (the chain's,
    /// `finalityLag` below its best), when it rose.
    package mutating func finalityArrived() -> Block? {
        let height = best.height - ChainFollower.finalityLag
        guard height > finalized.height else { return nil }
        finalized = Block(height: height, hash: chain.blockHash(height: height))
        return finalized
    }
}
