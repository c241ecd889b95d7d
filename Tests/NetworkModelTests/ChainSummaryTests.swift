import NetworkModel
import XCTest

final class ChainSummaryTests: XCTestCase {
    func testBestFinalizedLagAndTheMajorityName() {
        var a = Fixture.node("a", chain: "Tetcore"), b = Fixture.node("b", chain: "Tetcore"), c = Fixture.node("c", chain: "tetcore-dev")
        a.apply(Fixture.interval(best: 100, finalized: 97), atMs: 1_000)
        b.apply(Fixture.interval(best: 101, finalized: 98), atMs: 2_000)
        c.apply(Fixture.interval(best: 101, finalized: 96), atMs: 1_500)
        var blocks = ChainBlocks()
        blocks.add(height: 98, firstSeenMs: -16_000)
        blocks.add(height: 101, firstSeenMs: 1_400)
        let summary = ChainSummary.summarize(genesisHash: Fixture.genesis, nodes: [a, b, c], blocks: blocks, nowMs: 3_000, rules: Fixture.rules)
        XCTAssertEqual(summary.name, "Tetcore", "two nodes against one")
        XCTAssertEqual(summary.best?.height, 101)
        XCTAssertEqual(summary.bestAtMs, 1_400, "its first sighting, earlier than any node here")
        XCTAssertEqual(summary.finalized?.height, 98)
        XCTAssertEqual(summary.finalityLagBlocks, 3)
        XCTAssertEqual(summary.finalityLagMs, 17_400)
        XCTAssertEqual([summary.nodesOnline, summary.nodesStale, summary.nodesTotal], [3, 0, 3])
    }

    func testTiedNamesPickTheFirstInByteOrder() {
        let nodes = [Fixture.node("a", chain: "b-chain"), Fixture.node("b", chain: "a-chain")]
        XCTAssertEqual(ChainSummary.summarize(genesisHash: "g", nodes: nodes, blocks: nil, nowMs: 0, rules: Fixture.rules).name, "a-chain")
    }

    func testAverageBlockTimeOverTheLastFiftyBlocks() {
        var blocks = ChainBlocks()
        XCTAssertNil(blocks.averageBlockTimeMs())
        // 6 s blocks for heights 1...40, then 12 s blocks for 41...100.
        var t: Int64 = 0
        for height in Int64(1)...100 {
            blocks.add(height: height, firstSeenMs: t)
            t += height < 40 ? 6_000 : 12_000
        }
        XCTAssertEqual(blocks.averageBlockTimeMs(), 12_000, "only heights 50...100 count")
        XCTAssertEqual(blocks.newest?.height, 100)
        XCTAssertLessThanOrEqual(blocks.firstSeenMs.count, ChainBlocks.capacity * 2, "bounded")
        // A missing height (no node announced it) is spanned.
        var sparse = ChainBlocks()
        sparse.add(height: 10, firstSeenMs: 0)
        sparse.add(height: 13, firstSeenMs: 18_000)
        XCTAssertEqual(sparse.averageBlockTimeMs(), 6_000)
    }

    /// The chain's best: the highest any node reports, reached at the
    /// earliest time a node reached it, or at its first sighting if earlier.
    func testChainBestIsTheHighestAtTheEarliestTime() {
        var best = ChainBest()
        best.add(nil, reachedAtMs: 5)
        XCTAssertNil(best.best)
        best.add(BlockRef(height: 100, hash: "0xa"), reachedAtMs: 1_000)
        best.add(BlockRef(height: 101, hash: "0xb"), reachedAtMs: nil)
        XCTAssertEqual(best.best?.height, 101)
        XCTAssertNil(best.bestAtMs, "the higher block's node gave no time")
        best.add(BlockRef(height: 101, hash: "0xb"), reachedAtMs: 3_000)
        best.add(BlockRef(height: 101, hash: "0xc"), reachedAtMs: 2_000)
        best.add(BlockRef(height: 100, hash: "0xd"), reachedAtMs: 500)
        XCTAssertEqual(best.best, BlockRef(height: 101, hash: "0xc"))
        XCTAssertEqual(best.bestAtMs, 2_000)
        var blocks = ChainBlocks()
        blocks.add(height: 101, firstSeenMs: 2_500)
        best.settle(with: blocks)
        XCTAssertEqual(best.bestAtMs, 2_000, "a later first sighting changes nothing")
        blocks.add(height: 101, firstSeenMs: 1_800)
        best.settle(with: blocks)
        XCTAssertEqual(best.bestAtMs, 1_800)
    }
}
