import Foundation
@testable import TestSupport
import XCTest

/// The network on /metrics: per-chain gauges labelled genesis and name
/// only, the propagation histogram, per-node series only when asked for and
/// up to the cap; every series the alert rules use is there.
final class NetworkMetricsTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["DB_SAVE_LATENCY_MS": "10", "NODE_ID_IDLE_S": "30", "NETWORK_METRICS_PER_NODE_MAX": "2"]
    }

    func testChainGaugesTheHistogramAndCappedNodeSeries() throws {
        let nodes = try (0..<3).map { try SyntheticNode(port: server.port, peerID: "m\($0)") }
        let other = try SyntheticNode(port: server.port, peerID: "o0", chain: "Other", genesis: SyntheticNode.genesisB)
        for node in nodes { try node.interval(best: 40, finalized: 30) }
        try other.interval(best: 7, finalized: 7)
        try nodes[0].importBlock(41)
        usleep(100_000)
        try nodes[1].importBlock(41)
        let a = #"genesis="\#(SyntheticNode.genesisA)",name="Tetcore""#
        var scrape: Scrape?
        eventually(10, "the chain gauges and both imports") {
            scrape = try Scrape.of(self.server)
            return scrape?["tetcore_chain_best_height{\(a)}"] == 41
                && scrape?["tetcore_block_propagation_seconds_count{\(a)}"] == 2
        }
        let s = try XCTUnwrap(scrape)
        XCTAssertEqual(s["tetcore_chain_finalized_height{\(a)}"], 30)
        XCTAssertEqual(s["tetcore_chain_finality_lag_blocks{\(a)}"], 11)
        XCTAssertEqual(s["tetcore_chain_nodes_online{\(a)}"], 3)
        XCTAssertEqual(s["tetcore_chain_nodes_stale{\(a)}"], 0)
        XCTAssertEqual(s["tetcore_chain_nodes_known{\(a)}"], 3)
        XCTAssertNotNil(s["tetcore_chain_seconds_since_last_block{\(a)}"])
        XCTAssertEqual(s[#"tetcore_chain_best_height{genesis="\#(SyntheticNode.genesisB)",name="Other"}"#], 7)
        // Chain series carry genesis and name only.
        let chainLines = s.text.split(separator: "\n").filter { $0.hasPrefix("tetcore_chain_") }
        XCTAssertFalse(chainLines.isEmpty)
        XCTAssertTrue(chainLines.allSatisfy { !$0.contains("peer_id") }, "\(chainLines)")
        // The second import, about 100 ms after the first.
        XCTAssertEqual(s[#"tetcore_block_propagation_seconds_bucket{\#(a),le="0.05"}"#], 1)
        XCTAssertEqual(s[#"tetcore_block_propagation_seconds_bucket{\#(a),le="1.0"}"#], 2)
        // Per node: two of the four online nodes (the cap), by peer id.
        let perNode = s.text.split(separator: "\n").filter { $0.hasPrefix("tetcore_node_best_height{") }
        XCTAssertEqual(perNode.count, 2, "\(perNode)")
        XCTAssertEqual(s[#"tetcore_node_best_height{\#(a),peer_id="m0"}"#], 41)
        XCTAssertEqual(s[#"tetcore_node_best_lag_blocks{\#(a),peer_id="m1"}"#], 0)
        // Every series the alert rules read.
        for family in ["tetcore_chain_nodes_stale", "tetcore_chain_seconds_since_last_block", "tetcore_chain_finality_lag_blocks",
                       "tetcore_chain_nodes_online", "tetcore_block_propagation_seconds_bucket"] {
            XCTAssertTrue(s.text.contains("\n\(family){"), family)
        }
        let check = try PrometheusPackage.checkMetrics(s.text)
        XCTAssertEqual(check.status, 0, check.output)
        withExtendedLifetime((nodes, other)) {}
    }
}
