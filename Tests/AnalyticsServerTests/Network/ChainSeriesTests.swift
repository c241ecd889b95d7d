import Foundation
@testable import TestSupport
import XCTest

/// GET /chains/{genesis_hash}/series: a chain's nodes online, finality lag
/// and version rollout over time, from its nodes' history rows; and the
/// chart library the dashboards load from /vendor/chart.js.
final class ChainSeriesTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["DB_SAVE_LATENCY_MS": "10", "NETWORK_SERIES_STEP_S": "1", "NODE_ID_IDLE_S": "30"]
    }

    private let chain = "/chains/\(SyntheticNode.genesisA)/series"

    func testVersionRolloutNodesOnlineAndFinalityLagOverTime() throws {
        // Two nodes on version 1; one upgrades (reconnects with version 2);
        // a node of another chain is not counted.
        let steady = try SyntheticNode(port: server.port, peerID: "steady", version: "1.0.0")
        var upgrading: SyntheticNode? = try SyntheticNode(port: server.port, peerID: "upgrading", version: "1.0.0")
        let elsewhere = try SyntheticNode(port: server.port, peerID: "elsewhere", genesis: SyntheticNode.genesisB, version: "9.9.9")
        let tick = { (nodes: [SyntheticNode?], height: Int) in
            for node in nodes.compactMap({ $0 }) { try node.interval(best: height, finalized: height - 2) }
        }
        for height in 10..<14 {
            try tick([steady, upgrading, elsewhere], height)
            usleep(1_100_000) // one series step per tick
        }
        eventually(20, "version 1 rows of both nodes") {
            self.count("SELECT count(DISTINCT node_id) FROM network_node_series") == 3
        }
        upgrading = nil
        eventually(20, "the old connection closed") {
            try self.nodes(SyntheticNode.genesisA)["upgrading"]?["online"] as? Bool == false
        }
        upgrading = try SyntheticNode(port: server.port, peerID: "upgrading", version: "2.0.0")
        for height in 14..<18 {
            try tick([steady, upgrading, elsewhere], height)
            usleep(1_100_000)
        }
        var versions: [[String: Any]] = []
        eventually(20, "version 2 in the rollout") {
            versions = try self.array("\(self.chain)?metric=versions&step=1&start_time=\(APITime.ago(120))") ?? []
            return versions.contains { ($0["versions"] as? [String: Int])?["2.0.0"] == 1 }
        }
        let counts = versions.compactMap { $0["versions"] as? [String: Int] }
        XCTAssertTrue(counts.allSatisfy { $0["9.9.9"] == nil }, "another chain's node: \(counts)")
        XCTAssertTrue(counts.contains { $0 == ["1.0.0": 2] }, "both on version 1 first: \(counts)")
        XCTAssertTrue(counts.allSatisfy { ($0["1.0.0"] ?? 0) + ($0["2.0.0"] ?? 0) <= 2 }, "a node counted once a step: \(counts)")
        let firstUpgraded = try XCTUnwrap(counts.firstIndex { $0["2.0.0"] != nil })
        XCTAssertFalse(counts[firstUpgraded...].contains { $0 == ["1.0.0": 2] }, "no return to version 1 after the upgrade: \(counts)")

        let online = try XCTUnwrap(try array("\(chain)?metric=nodes_online&step=1&start_time=\(APITime.ago(120))"))
        XCTAssertGreaterThanOrEqual(online.filter { $0["max"] as? Double == 2 }.count, 4, "\(online)")
        XCTAssertTrue(online.allSatisfy { ($0["max"] as? Double ?? 9) <= 2 }, "\(online)")
        // One step of an hour holds them all.
        let hourly = try XCTUnwrap(try array("\(chain)?metric=nodes_online&step=3600&start_time=\(APITime.ago(120))"))
        XCTAssertTrue((1...2).contains(hourly.count), "\(hourly)")
        let lag = try XCTUnwrap(try array("\(chain)?metric=finality_lag&step=1&start_time=\(APITime.ago(120))"))
        XCTAssertFalse(lag.isEmpty)
        XCTAssertTrue(lag.allSatisfy { $0["min"] as? Double == 2 && $0["max"] as? Double == 2 }, "\(lag)")
        withExtendedLifetime((steady, upgrading, elsewhere)) {}
    }

    func testUnknownValuesStayUnknownInTheHistory() throws {
        // Only imports: no finalized block, no peers, one rise of its best
        // (no block time). Those steps have no value, not 2147483647.
        let importer = try SyntheticNode(port: server.port, peerID: "importer")
        for height in 1...3 {
            try importer.importBlock(height == 1 ? 1 : 1 + height / 3)
            usleep(1_100_000)
        }
        eventually(20, "history rows") { self.count("SELECT count(*) FROM network_node_series") >= 2 }
        XCTAssertEqual(count("SELECT count(*) FROM network_node_series WHERE finality_lag IS NOT NULL OR peers IS NOT NULL"), 0)
        XCTAssertEqual(try array("/nodes/importer/series?metric=finality_lag&step=1")?.count, 0)
        XCTAssertEqual(try array("\(chain)?metric=finality_lag&step=1")?.count, 0)
        withExtendedLifetime(importer) {}
    }

    func testBadRequestsAreNamed() throws {
        let wrongMetric = try get("\(chain)?metric=height")
        XCTAssertEqual(wrongMetric.status, 400)
        XCTAssertTrue(((wrongMetric.json as? [String: Any])?["error"] as? String ?? "").contains("metric"))
        XCTAssertEqual(try get("\(chain)?metric=versions&step=0").status, 400)
        XCTAssertEqual(try get("\(chain)?metric=versions&start_time=yesterday").status, 400)
        XCTAssertEqual(try get("/chains/0xnone/series?metric=versions").status, 404)
    }

    func testTheChartLibraryIsServedFromItsDebianPackage() throws {
        let script = try server.get("/vendor/chart.js")
        XCTAssertEqual(script.status, 200)
        let installed = try String(contentsOfFile: "/usr/share/javascript/chart.js/chart.min.js", encoding: .utf8)
        XCTAssertEqual(script.body, installed)
        // The path is fixed: nothing else under /vendor, however spelled.
        for path in ["/vendor/chart.js/../chart.esm.js", "/vendor/..%2Fchart.js", "/vendor/chart.min.js", "/vendor/%2e%2e/etc/passwd"] {
            XCTAssertEqual(try server.get(path).status, 404, path)
        }
    }
}
