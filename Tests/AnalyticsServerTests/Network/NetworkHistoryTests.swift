import Foundation
@testable import TestSupport
import XCTest

/// The history (series, blocks, sessions) outlives the raw telemetry it
/// came from, and is downsampled on the server.
final class NetworkHistoryTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["DB_SAVE_LATENCY_MS": "10", "NETWORK_SERIES_STEP_S": "1", "LOG_EXPIRY_H": "1", "PURGE_INTERVAL_S": "1",
         "NODE_ID_IDLE_S": "30"]
    }

    func testHistorySurvivesTheExpiryOfItsRawRows() throws {
        // The node's clock is three days behind: its raw rows are expired as
        // soon as they are stored, while the history uses the server's clock.
        let node = try SyntheticNode(port: server.port, peerID: "old-clock", clockSkew: -3 * 86_400)
        for step in 0..<4 {
            try node.interval(best: 10 + step, finalized: 8 + step, peers: 20 + step)
            try node.importBlock(11 + step)
            usleep(1_100_000)
        }
        var points: [[String: Any]] = []
        eventually(15, "history rows of at least three steps") {
            points = try self.array("/nodes/old-clock/series?metric=peers&step=1") ?? []
            return points.count >= 3
        }
        eventually(15, "the raw rows purged") { self.count("SELECT count(*) FROM tetcore_logs") == 0 }
        usleep(1_500_000) // another purge pass, with nothing left to purge
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 0)

        let afterPurge = try XCTUnwrap(try array("/nodes/old-clock/series?metric=peers&step=1"))
        XCTAssertGreaterThanOrEqual(afterPurge.count, 3, "series kept")
        for point in afterPurge {
            XCTAssertEqual(Set(point.keys), ["time", "min", "avg", "max"])
            let low = try XCTUnwrap(point["min"] as? Double), high = try XCTUnwrap(point["max"] as? Double)
            XCTAssertTrue((20...23).contains(Int(low)) && low <= high, "\(point)")
        }
        // One step of an hour holds every row: min, avg, max over them.
        let hourly = try XCTUnwrap(try array("/nodes/old-clock/series?metric=peers&step=3600"))
        XCTAssertTrue((1...2).contains(hourly.count), "\(hourly)")
        XCTAssertEqual(hourly.compactMap { $0["max"] as? Double }.max(), 23)
        let online = try XCTUnwrap(try array("/nodes/old-clock/series?metric=online&step=1&start_time=\(APITime.ago(30))"))
        XCTAssertTrue((30...31).contains(online.count), "every step of the window, online or not: \(online.count)")
        XCTAssertGreaterThanOrEqual(online.filter { $0["max"] as? Double == 1 }.count, 3)
        let lag = try XCTUnwrap(try array("/nodes/old-clock/series?metric=finality_lag&step=1"))
        XCTAssertTrue(lag.allSatisfy { ($0["max"] as? Double ?? -1) >= 2 }, "\(lag)")

        let blocks = try XCTUnwrap(try array("/chains/\(SyntheticNode.genesisA)/blocks"))
        XCTAssertEqual(blocks.map { $0["height"] as? Int }, [14, 13, 12, 11], "blocks kept")
        // The fleet over the last minute, from the sessions.
        let window = try XCTUnwrap(try object("/chains/\(SyntheticNode.genesisA)?start_time=\(APITime.ago(60))"))
        let period = try XCTUnwrap(window["window"] as? [String: Any])
        XCTAssertEqual(period["nodes"] as? Int, 1)
        XCTAssertEqual(period["blocks"] as? Int, 4, "heights 11 to 14 first seen in the window")
        XCTAssertEqual(period["best_height"] as? Int, 14)
        XCTAssertNotNil(period["last_block_at"] as? String)
        let average = try XCTUnwrap(period["average_block_time_ms"] as? Int)
        XCTAssertTrue((900...1500).contains(average), "a block every 1.1 s: \(average)")
        // As of a time before any block: none yet.
        let before = try XCTUnwrap(try object("/chains/\(SyntheticNode.genesisA)?end_time=\(APITime.ago(3600))"))
        XCTAssertTrue((before["window"] as? [String: Any])?["best_height"] is NSNull)
        let versions = (window["distributions"] as? [String: [[String: Any]]])?["version"]
        XCTAssertEqual(versions?.first?["label"] as? String, "0.9.43-5a1f7c2e9b4")
        withExtendedLifetime(node) {}
    }
}

enum APITime {
    /// `seconds` ago as an RFC 3339 query value.
    static func ago(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date().addingTimeInterval(-seconds)).replacingOccurrences(of: "+", with: "%2B")
    }
}
