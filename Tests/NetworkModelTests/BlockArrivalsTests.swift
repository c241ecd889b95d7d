import NetworkModel
import XCTest

final class BlockArrivalsTests: XCTestCase {
    private func key(_ height: Int64, fork: Int = 0) -> BlockKey {
        BlockKey(genesisHash: Fixture.genesis, height: height, hash: Fixture.hash(height, fork: fork))
    }

    func testDelaysCountFromTheFirstSightingAndEachNodeOnce() {
        var arrivals = BlockArrivals()
        XCTAssertEqual(arrivals.record(key(10), peerID: "a", atMs: 1_000), 0)
        XCTAssertEqual(arrivals.record(key(10), peerID: "b", atMs: 1_250), 250)
        XCTAssertNil(arrivals.record(key(10), peerID: "b", atMs: 1_400), "b again")
        XCTAssertEqual(arrivals.record(key(10), peerID: "c", atMs: 2_000), 1_000)
        let changed = arrivals.takeChanged()
        XCTAssertEqual(changed.count, 1)
        XCTAssertEqual(changed[0].record.arrivalsMs, [1_000, 1_250, 2_000])
        XCTAssertEqual(changed[0].record.firstPeerID, "a")
        XCTAssertTrue(arrivals.takeChanged().isEmpty, "handed out once")
    }

    func testAForkIsTwoBlocks() {
        var arrivals = BlockArrivals()
        arrivals.record(key(10), peerID: "a", atMs: 0)
        arrivals.record(key(10, fork: 1), peerID: "b", atMs: 100)
        arrivals.record(key(10, fork: 1), peerID: "a", atMs: 400)
        let changed = arrivals.takeChanged().sorted { $0.key.hash < $1.key.hash }
        XCTAssertEqual(changed.map(\.key.hash), [Fixture.hash(10), Fixture.hash(10, fork: 1)])
        XCTAssertEqual(changed.map { $0.record.arrivalsMs.count }, [1, 2])
    }

    func testOldBlocksAndLateImportsAreNotPropagation() {
        var arrivals = BlockArrivals(windowMs: 60_000, depth: 16)
        arrivals.record(key(100), peerID: "a", atMs: 0)
        XCTAssertNil(arrivals.record(key(83), peerID: "syncing", atMs: 10), "17 below the tip")
        XCTAssertEqual(arrivals.record(key(84), peerID: "close", atMs: 10), 0, "16 below is still counted")
        XCTAssertNil(arrivals.record(key(100), peerID: "late", atMs: 60_001), "after the window")
        XCTAssertEqual(arrivals.expire(nowMs: 120_000), 0)
        XCTAssertEqual(arrivals.records.count, 2, "not handed out yet: kept")
        _ = arrivals.takeChanged()
        arrivals.expire(nowMs: 120_000)
        XCTAssertTrue(arrivals.records.isEmpty)
    }

    func testImportsNeverWrittenAreDroppedAfterASecondWindow() {
        var arrivals = BlockArrivals(windowMs: 60_000, depth: 16)
        arrivals.record(key(1), peerID: "a", atMs: 0)
        arrivals.record(key(2), peerID: "a", atMs: 50_000)
        // Every write fails: the blocks are handed back each time.
        arrivals.markChanged(arrivals.takeChanged().map(\.key))
        XCTAssertEqual(arrivals.expire(nowMs: 120_000), 0, "within two windows: kept for a later write")
        XCTAssertEqual(arrivals.records.count, 2)
        XCTAssertEqual(arrivals.expire(nowMs: 120_001), 1, "the first block, two windows old, is dropped")
        XCTAssertEqual(arrivals.records.keys.map(\.height), [2])
    }

    func testASightingLearntFromElsewhereComesFirst() {
        var arrivals = BlockArrivals()
        arrivals.learn(firstSeenMs: 900, of: key(7))
        XCTAssertEqual(arrivals.record(key(7), peerID: "a", atMs: 1_000), 100, "another instance saw it 100 ms before")
        XCTAssertEqual(arrivals.firstSeenMs(of: key(7)), 900)
        arrivals.learnTip(200, of: Fixture.genesis)
        XCTAssertNil(arrivals.record(key(8), peerID: "a", atMs: 1_000), "far below the tip learnt elsewhere")
    }

    /// A node with a skewed clock: the model never sees node time, only the
    /// server's, so its import counts where it arrived.
    func testPropagationOfKnownSendTimes() {
        // Nodes import at known offsets after the first: 0, 40, 80, ... 760 ms.
        let imports = (0..<20).map { (peerID: "n\($0)", atMs: Int64(5_000 + $0 * 40)) }
        let propagation = BlockPropagation(imports: imports.shuffled())
        XCTAssertEqual(propagation?.firstPeerID, "n0")
        XCTAssertEqual(propagation?.firstSeenMs, 5_000)
        XCTAssertEqual(propagation?.nodes, 20)
        XCTAssertEqual(propagation?.p50Ms, 360, "the 10th of 20")
        XCTAssertEqual(propagation?.p90Ms, 680, "the 18th")
        XCTAssertEqual(propagation?.p99Ms, 760)
        XCTAssertEqual(propagation?.maxMs, 760)
        XCTAssertNil(BlockPropagation(imports: []))
    }

    func testNearestRankPercentiles() {
        XCTAssertNil(Percentile.of(50, sorted: [Int]()))
        XCTAssertEqual(Percentile.of(50, sorted: [7]), 7)
        XCTAssertEqual(Percentile.of(50, sorted: [1, 2, 3, 4]), 2)
        XCTAssertEqual(Percentile.of(90, sorted: Array(1...10)), 9)
        XCTAssertEqual(Percentile.of(99, sorted: Array(1...100)), 99)
        XCTAssertEqual(Percentile.of(100, sorted: Array(1...3)), 3)
        XCTAssertEqual(Percentile.of(0, sorted: Array(1...3)), 1)
    }
}
