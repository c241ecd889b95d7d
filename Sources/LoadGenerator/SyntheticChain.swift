/// The chains of a run and where each node sits on them: node `index` is
/// on chain `index % chains`, at position `index / chains` among its
/// chain's nodes.
///
/// Every chain produces one block per block time from the start of the
/// run (block n, height `ChainHeight.base + n`, at n × block time); the
/// node at position p of a chain of n nodes imports it
/// `propagation × p / n` later than the chain's first node. A server
/// timing arrivals by its own clock should therefore give that node a
/// propagation of `delayMs` (plus the network's and loop's own latency).
package struct SyntheticChain: Equatable {
    package let index: Int
    package let name: String
    package let genesisHash: String
    /// Nodes on this chain.
    package let nodes: Int
    private let seed: UInt64

    package init(seed: UInt64, index: Int, chains: Int, fleet: Int) {
        self.seed = seed
        self.index = index
        name = "Tetcore Loadgen \(index + 1)"
        genesisHash = SyntheticChain.hash(seed: seed, stream: 6, key: UInt64(index))
        nodes = fleet / chains + (index < fleet % chains ? 1 : 0)
    }

    package static func chain(of node: Int, chains: Int) -> Int { node % chains }

    package static func position(of node: Int, chains: Int) -> Int { node / chains }

    /// How much later than the chain's first node this node imports each
    /// block.
    package func delayMs(position: Int, propagationMs: UInt64) -> UInt64 {
        propagationMs * UInt64(position) / UInt64(max(nodes, 1))
    }

    /// The hash of the chain's block at `height`; `forked` gives the other
    /// block some nodes import at the fork's height.
    package func blockHash(height: UInt64, forked: Bool = false) -> String {
        SyntheticChain.hash(seed: seed, stream: forked ? 8 : 7, key: UInt64(index) << 40 ^ height)
    }

    /// "0x" and 64 hex digits, a function of its arguments.
    static func hash(seed: UInt64, stream: UInt64, key: UInt64) -> String {
        var random = SeededRandom(seed: seed, stream: stream, index: Int(truncatingIfNeeded: key))
        var text = "0x"
        for _ in 0..<4 {
            let word = String(random.next(), radix: 16)
            text += String(repeating: "0", count: 16 - word.count) + word
        }
        return text
    }
}
