import NetworkModel

/// Synthetic nodes for the model's tests: a chain, and nodes that report
/// on it at times the test chooses (server receive clock, milliseconds).
enum Fixture {
    static let genesis = "0x91b171bb158e2d3848fa23a9f1c25182fb8e20313b2c1eb49219da7a70ce90c3"
    static let rules = LivenessRules(idleMs: 60_000, staleAfterMs: 120_000)

    static func hash(_ height: Int64, fork: Int = 0) -> String {
        "0x" + String(height, radix: 16) + String(repeating: "a", count: fork)
    }

    static func node(_ peerID: String, chain: String = "Tetcore", genesis: String = Fixture.genesis, at: Int64 = 0) -> NodeState {
        NodeState(identity: NodeIdentity(peerID: peerID, name: peerID, chain: chain, genesisHash: genesis), connectedAtMs: at)
    }

    static func imported(_ height: Int64, fork: Int = 0, origin: BlockOrigin = .networkBroadcast) -> NodeReport {
        NodeReport(kind: .blockImport, best: BlockRef(height: height, hash: hash(height, fork: fork)), origin: origin)
    }

    static func interval(best: Int64, finalized: Int64, transactions: Int64 = 0) -> NodeReport {
        NodeReport(kind: .interval, best: BlockRef(height: best, hash: hash(best)),
                   finalized: BlockRef(height: finalized, hash: hash(finalized)), transactions: transactions, stateCacheSize: 0)
    }

    static func finalized(_ height: Int64) -> NodeReport {
        NodeReport(kind: .finalized, finalized: BlockRef(height: height, hash: hash(height)))
    }
}
