@testable import AnalyticsServer
import XCTest

/// The WAL positions the lag is measured with, as PostgreSQL prints them.
final class ReplicaLagMonitorTests: XCTestCase {
    func testLSNTextIsReadAsOneNumber() {
        XCTAssertEqual(ReplicaLagMonitor.parseLSN("0/0"), 0)
        XCTAssertEqual(ReplicaLagMonitor.parseLSN("0/3000110"), 0x3000110)
        XCTAssertEqual(ReplicaLagMonitor.parseLSN("16/B374D848"), 0x16_B374_D848)
        XCTAssertEqual(ReplicaLagMonitor.parseLSN("FFFFFFFF/FFFFFFFF"), UInt64.max)
        XCTAssertLessThan(ReplicaLagMonitor.parseLSN("1/0") ?? 0, ReplicaLagMonitor.parseLSN("1/10") ?? 0)
        XCTAssertGreaterThan(ReplicaLagMonitor.parseLSN("2/0") ?? 0, ReplicaLagMonitor.parseLSN("1/FFFFFFFF") ?? 0)
    }

    func testAnythingElseIsNoPosition() {
        for text in ["", "0", "1/", "/1", "1/2/3", "G/0", "1/100000000", "-1/0", " 1/0"] {
            XCTAssertNil(ReplicaLagMonitor.parseLSN(text), text)
        }
    }
}
