import NetworkModel
import XCTest

/// Online, silent, lagging and stale nodes on one chain.
final class LivenessTests: XCTestCase {
    private let rules = Fixture.rules

    /// Three nodes import blocks 1...n every 6 s; `lagging` is 3 blocks
    /// behind, `stuck` stops at block 10, `silent` stops speaking at 30 s.
    private func run(until seconds: Int64) -> [String: NodeState] {
        var nodes = ["leader": Fixture.node("leader"), "lagging": Fixture.node("lagging"),
                     "stuck": Fixture.node("stuck"), "silent": Fixture.node("silent")]
        var t: Int64 = 0
        var height: Int64 = 1
        while t <= seconds * 1000 {
            nodes["leader"]?.apply(Fixture.imported(height), atMs: t)
            nodes["lagging"]?.apply(Fixture.imported(max(1, height - 3)), atMs: t + 100)
            nodes["stuck"]?.apply(Fixture.imported(min(height, 10)), atMs: t + 200)
            if t < 30_000 { nodes["silent"]?.apply(Fixture.imported(height), atMs: t + 300) }
            t += 6_000
            height += 1
        }
        return nodes
    }

    func testALaggingNodeIsOnlineNotStaleWithItsLag() {
        let nodes = run(until: 300)
        let now: Int64 = 300_500
        let summary = ChainSummary.summarize(genesisHash: Fixture.genesis, nodes: Array(nodes.values), blocks: nil, nowMs: now, rules: rules)
        let lagging = nodes["lagging"]!
        XCTAssertTrue(lagging.isOnline(nowMs: now, idleMs: rules.idleMs))
        XCTAssertFalse(summary.isStale(lagging, nowMs: now, rules: rules))
        XCTAssertEqual(lagging.lag(behind: summary.best?.height), 3)
    }

    func testANodeThatStoppedImportingWhileTheChainWentOnIsStaleAfterTwoMinutes() {
        // `stuck` reaches block 10 at 54.2 s and keeps speaking (it repeats
        // its best); the chain goes on.
        let nodes = run(until: 300)
        let stuck = nodes["stuck"]!
        XCTAssertEqual(stuck.bestAtMs, 54_200)
        let at = { (now: Int64) in
            ChainSummary.summarize(genesisHash: Fixture.genesis, nodes: Array(nodes.values), blocks: nil, nowMs: now, rules: self.rules)
        }
        XCTAssertFalse(at(174_199).isStale(stuck, nowMs: 174_199, rules: rules), "119.999 s without a rise")
        XCTAssertTrue(at(174_200).isStale(stuck, nowMs: 174_200, rules: rules), "120 s without a rise")
        XCTAssertEqual(at(300_500).nodesStale, 1, "only it: the silent node is offline, not stale")
        XCTAssertFalse(at(300_500).isStale(nodes["silent"]!, nowMs: 300_500, rules: rules))
    }

    func testANodeOnAStalledChainIsNotStale() {
        var a = Fixture.node("a"), b = Fixture.node("b")
        a.apply(Fixture.imported(100), atMs: 0)
        b.apply(Fixture.imported(100), atMs: 300)
        a.lastMessageAtMs = 500_000
        b.lastMessageAtMs = 500_000
        let summary = ChainSummary.summarize(genesisHash: Fixture.genesis, nodes: [a, b], blocks: nil, nowMs: 500_000, rules: rules)
        XCTAssertEqual(summary.nodesStale, 0, "the chain stalled, not the nodes")
        XCTAssertEqual(summary.bestAtMs, 0, "the chain reached 100 when the first node did")
        XCTAssertEqual(summary.lastBlockAtMs, 0)
    }

    func testASilentNodeGoesOfflineAfterTheIdleTimeAndAClosedOneAtOnce() {
        let nodes = run(until: 120)
        let silent = nodes["silent"]!
        XCTAssertEqual(silent.lastMessageAtMs, 24_300)
        XCTAssertTrue(silent.isOnline(nowMs: 84_299, idleMs: rules.idleMs))
        XCTAssertFalse(silent.isOnline(nowMs: 84_300, idleMs: rules.idleMs))
        var closed = nodes["leader"]!
        closed.online = false
        XCTAssertFalse(closed.isOnline(nowMs: closed.lastMessageAtMs, idleMs: rules.idleMs))
        let summary = ChainSummary.summarize(genesisHash: Fixture.genesis, nodes: [nodes["leader"]!, silent, closed],
                                             blocks: nil, nowMs: 120_100, rules: rules)
        XCTAssertEqual([summary.nodesOnline, summary.nodesTotal], [1, 3])
    }
}
