/// The network the synthetic nodes pretend to be: how many chains, how
/// fast blocks come and spread, and which nodes misbehave how, so that a
/// server's network model can be checked against a known truth.
///
/// Roles go to nodes from the last one backwards, in the order lagging,
/// stalled, fork, silent, skew (each node at most one role); the first
/// node of every chain (indices 0 ..< chains) never gets one, so each
/// chain's blocks are first seen by a node that behaves.
package struct NetworkScenario: Equatable {
    package struct Lagging: Equatable {
        package var count: Int
        /// Blocks behind its chain's best.
        package var blocks: UInt64

        package init(count: Int, blocks: UInt64) {
            self.count = count
            self.blocks = blocks
        }
    }

    /// Nodes that change behaviour after a time (stalled, silent).
    package struct Delayed: Equatable {
        package var count: Int
        package var afterMs: UInt64

        package init(count: Int, afterMs: UInt64) {
            self.count = count
            self.afterMs = afterMs
        }
    }

    package struct Fork: Equatable {
        /// The run's block number (height `ChainHeight.base` + block).
        package var block: UInt64
        package var count: Int

        package init(block: UInt64, count: Int) {
            self.block = block
            self.count = count
        }
    }

    package struct Skew: Equatable {
        package var count: Int
        /// Added to the node's `ts` (may be negative).
        package var nanoseconds: Int64

        package init(count: Int, nanoseconds: Int64) {
            self.count = count
            self.nanoseconds = nanoseconds
        }
    }

    package var chains = 1
    package var blockTimeMs: UInt64 = 6_000
    /// Nodes of a chain import a block spread evenly over this long after
    /// the first of them (see `SyntheticChain.delayMs`).
    package var propagationMs: UInt64 = 500
    package var lagging: Lagging?
    package var stalled: Delayed?
    package var fork: Fork?
    package var silent: Delayed?
    package var skew: Skew?

    package init() {}

    /// Nodes given a role.
    package var roleCount: Int {
        (lagging?.count ?? 0) + (stalled?.count ?? 0) + (fork?.count ?? 0) + (silent?.count ?? 0) + (skew?.count ?? 0)
    }

    /// What node `index` of a fleet of `nodes` does differently.
    package func role(of index: Int, nodes: Int) -> NodeRole {
        var role = NodeRole()
        var end = nodes
        func take(_ count: Int?) -> Bool {
            let count = count ?? 0
            defer { end -= count }
            return index >= end - count && index < end
        }
        if take(lagging?.count), let lagging { role.lagBlocks = lagging.blocks }
        if take(stalled?.count), let stalled { role.stallAfterMs = stalled.afterMs }
        if take(fork?.count), let fork { role.forkBlock = fork.block }
        if take(silent?.count), let silent { role.silentAfterMs = silent.afterMs }
        if take(skew?.count), let skew { role.skewNanoseconds = skew.nanoseconds }
        return role
    }

    /// Why the scenario cannot run with `nodes` nodes, or nil.
    package func problem(nodes: Int) -> String? {
        if chains < 1 { return "--chains must be at least 1" }
        if chains > nodes { return "--chains \(chains) needs at least as many nodes (--nodes \(nodes))" }
        if blockTimeMs < 100 { return "--block-time must be at least 100ms" }
        if propagationMs >= blockTimeMs { return "--propagation must be shorter than --block-time" }
        if roleCount > nodes - chains {
            return "the scenario gives \(roleCount) nodes a role, but only \(nodes - chains) may have one "
                + "(the first node of each chain behaves)"
        }
        return nil
    }
}

/// One node's part in the scenario.
package struct NodeRole: Equatable {
    /// Imports this many blocks behind its chain (as if still syncing).
    package var lagBlocks: UInt64 = 0
    /// Imports nothing after this long (ms since the run started), but
    /// keeps sending intervals.
    package var stallAfterMs: UInt64?
    /// Imports another block than the chain's at this block of the run.
    package var forkBlock: UInt64?
    /// Sends nothing after this long, but keeps its connection.
    package var silentAfterMs: UInt64?
    package var skewNanoseconds: Int64 = 0

    package init() {}

    package var name: String? {
        if lagBlocks > 0 { return "lagging" }
        if stallAfterMs != nil { return "stalled" }
        if forkBlock != nil { return "fork" }
        if silentAfterMs != nil { return "silent" }
        if skewNanoseconds != 0 { return "skew" }
        return nil
    }
}
