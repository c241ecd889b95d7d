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
