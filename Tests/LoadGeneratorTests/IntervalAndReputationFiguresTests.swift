@testable import LoadGenerator
import XCTest

final class PeerReputationsTests: XCTestCase {
    func testReputationsChangeFromReportToReportAndFollowTheSeed() {
        var scores = PeerReputations(seed: 4, index: 2, peers: 8)
        var again = PeerReputations(seed: 4, index: 2, peers: 8)
        var reports = [scores.values]
        for _ in 0..<30 {
            scores.advance()
            again.advance()
            reports.append(scores.values)
        }
        XCTAssertEqual(scores.values, again.values, "a function of the seed and the node")
        XCTAssertNotEqual(PeerReputations(seed: 5, index: 2, peers: 8).values, reports[0])
        XCTAssertEqual(Set(reports.map { $0.count }), [8])
        XCTAssertEqual(Set(reports).count, reports.count, "every report differs from the others")
        XCTAssertTrue(reports.joined().contains { $0 < -1_000 }, "some peer was penalised")
        XCTAssertTrue(reports.joined().contains { $0 > 0 }, "good behaviour earns reputation")
    }
}

final class NetworkFiguresTests: XCTestCase {
    func testPeersDriftAndBandwidthStaysNearTheNodesLevel() {
        var random = SeededRandom(seed: 4, stream: 10, index: 3)
        var figures = NetworkFigures(random: &random)
        let ticks = (0..<500).map { _ in figures.next(&random) }
        for (before, after) in zip(ticks, ticks.dropFirst()) {
            XCTAssertLessThanOrEqual(abs(after.peers - before.peers), 1, "the peer count moves by one at most")
        }
        XCTAssertGreaterThan(Set(ticks.map(\.peers)).count, 1, "but it moves")
        let downloads = ticks.map(\.download)
        let low = downloads.min() ?? 0, high = downloads.max() ?? 0
        XCTAssertLessThanOrEqual(Double(high), Double(low) * 1.2 / 0.8 + 1, "within ±20 % of one level")
        XCTAssertTrue(ticks.allSatisfy { $0.upload < $0.download * 2 })
    }
}
