import Foundation
@testable import TestSupport
import XCTest

/// Synthetic nodes with known behaviour against the real server: node and
/// chain state through the API, lagging, stale, silent, forked and
/// skewed-clock nodes.
final class NetworkStateTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["DB_SAVE_LATENCY_MS": "10", "NODE_ID_IDLE_S": "4", "NETWORK_STALE_S": "3", "NETWORK_SERIES_STEP_S": "1"]
    }

    func testNodesAndChainsFromWhatCurrentNodesSend() throws {
        let a = try SyntheticNode(port: server.port, peerID: "12D3KooWA", name: "alice")
        let b = try SyntheticNode(port: server.port, peerID: "12D3KooWB", name: "bob", version: "0.9.42-1b2c3d4")
        let c = try SyntheticNode(port: server.port, peerID: "12D3KooWC", chain: "Other", genesis: SyntheticNode.genesisB)
        try a.interval(best: 100, finalized: 98)
        try b.interval(best: 97, finalized: 95, txcount: 9, peers: 7)
        try c.interval(best: 5, finalized: 5)
        try a.importBlock(101)
        try a.finalized(99)

        eventually(10, "alice at 101 in the node list") {
            (try self.nodes(SyntheticNode.genesisA)["12D3KooWA"]?["best_height"] as? Int) == 101
        }
        let chains = try XCTUnwrap(try array("/chains"))
        XCTAssertEqual(chains.count, 2)
        let chain = try XCTUnwrap(chains.first { $0["genesis_hash"] as? String == SyntheticNode.genesisA })
        XCTAssertEqual(chain["name"] as? String, "Tetcore")
        XCTAssertEqual(chain["best_height"] as? Int, 101)
        XCTAssertEqual(chain["finalized_height"] as? Int, 99)
        XCTAssertEqual(chain["finality_lag_blocks"] as? Int, 2)
        XCTAssertEqual(chain["nodes_online"] as? Int, 2)
        XCTAssertEqual(chain["nodes_total"] as? Int, 2)
        XCTAssertEqual(chain["nodes_stale"] as? Int, 0)
        XCTAssertNotNil(chain["last_block_at"] as? String)
        XCTAssertTrue(chain.keys.contains("average_block_time_ms"))
        XCTAssertEqual(chains.first { $0["genesis_hash"] as? String == SyntheticNode.genesisB }?["name"] as? String, "Other")

        let nodes = try nodes(SyntheticNode.genesisA)
        XCTAssertEqual(Set(nodes.keys), ["12D3KooWA", "12D3KooWB"])
        let alice = try XCTUnwrap(nodes["12D3KooWA"])
        XCTAssertEqual(alice["name"] as? String, "alice")
        XCTAssertEqual(alice["online"] as? Bool, true)
        XCTAssertEqual(alice["stale"] as? Bool, false)
        XCTAssertEqual(alice["best_hash"] as? String, SyntheticNode.hash(101))
        XCTAssertEqual(alice["finalized_height"] as? Int, 99, "notify.finalized's string height")
        XCTAssertEqual(alice["propagation_ms"] as? Int, 0, "it imported 101 first")
        XCTAssertEqual(alice["peers"] as? Int, 25)
        XCTAssertEqual(alice["txcount"] as? Int, 3)
        XCTAssertEqual(alice["version"] as? String, "0.9.43-5a1f7c2e9b4")
        XCTAssertEqual(alice["bandwidth_download"] as? Int, 183_214)
        XCTAssertEqual((alice["sysinfo"] as? [String: Any])?["core_count"] as? Int, 16)
        XCTAssertEqual((alice["hwbench"] as? [String: Any])?["cpu_hashrate_score"] as? Int, 1712)
        XCTAssertNotNil(alice["last_seen"] as? String)
        let bob = try XCTUnwrap(nodes["12D3KooWB"])
        XCTAssertEqual(bob["best_lag"] as? Int, 4, "lagging: 97 against 101")
        XCTAssertEqual(bob["stale"] as? Bool, false)
        XCTAssertEqual(bob["txcount"] as? Int, 9)

        // The same node by peer id, and the default order.
        let state = try XCTUnwrap(try object("/nodes/12D3KooWB/state"))
        XCTAssertEqual(state["best_height"] as? Int, 97)
        XCTAssertEqual(try array("/chains/\(SyntheticNode.genesisA)/nodes")?.map { $0["peer_id"] as? String },
                       ["12D3KooWA", "12D3KooWB"], "height descending")
        XCTAssertEqual(try array("/chains/\(SyntheticNode.genesisA)/nodes?sort=name")?.map { $0["name"] as? String },
                       ["alice", "bob"])
        XCTAssertEqual(try array("/chains/\(SyntheticNode.genesisA)/nodes?sort=-peers")?.map { $0["peers"] as? Int }, [25, 7])
        XCTAssertEqual(try array("/chains/\(SyntheticNode.genesisA)/nodes?online=false")?.count, 0)

        // Distributions of the chain now.
        let detail = try XCTUnwrap(try object("/chains/\(SyntheticNode.genesisA)"))
        let distributions = try XCTUnwrap(detail["distributions"] as? [String: [[String: Any]]])
        XCTAssertEqual(distributions["version"]?.map { $0["count"] as? Int }, [1, 1])
        XCTAssertEqual(distributions["cpu_vendor"]?.first?["label"] as? String, "AMD")
        XCTAssertEqual(distributions["memory"]?.first?["label"] as? String, "64-128 GB")
        XCTAssertEqual(distributions["cpu_hashrate_score"]?.first?["label"] as? String, "150-200%")
        XCTAssertEqual(distributions["linux_kernel"]?.first?["label"] as? String, "6.1.0")
        _ = (a, b, c)
    }

    func testUnknownChainsAndNodesAre404AndBadParameters400ByName() throws {
        for target in ["/chains/0xnope", "/chains/0xnope/nodes", "/chains/0xnope/blocks", "/nodes/nobody/state",
                       "/nodes/nobody/series?metric=peers"] {
            let response = try get(target)
            XCTAssertEqual(response.status, 404, target)
            XCTAssertNotNil((response.json as? [String: String])?["error"], target)
        }
        let g = SyntheticNode.genesisA
        let cases: [(String, String)] = [
            ("/chains/\(g)/nodes?online=maybe", "online"),
            ("/chains/\(g)/nodes?sort=height", "sort"),
            ("/chains/\(g)/blocks?limit=0", "limit"),
            ("/chains/\(g)/blocks?start_time=yesterday", "start_time"),
            ("/chains/\(g)?end_time=x", "end_time"),
            ("/nodes/p/series", "metric"),
            ("/nodes/p/series?metric=cpu", "metric"),
            ("/nodes/p/series?metric=peers&step=0", "step"),
            ("/nodes/p/series?metric=peers&step=99999999", "step"),
        ]
        for (target, parameter) in cases {
            let response = try get(target)
            XCTAssertEqual(response.status, 400, target)
            let message = (response.json as? [String: String])?["error"] ?? ""
            XCTAssertTrue(message.contains("'\(parameter)'"), "\(target): \(message)")
        }
    }

    /// `steady` imports a block every 400 ms; `stuck` stops at the first
    /// block but keeps sending its intervals; `silent` stops sending
    /// anything. After NETWORK_STALE_S (3 s) `stuck` is stale, and after
    /// NODE_ID_IDLE_S (4 s) `silent` is offline; `steady` is neither.
    func testStaleAndSilentNodes() throws {
        let steady = try SyntheticNode(port: server.port, peerID: "steady")
        let stuck = try SyntheticNode(port: server.port, peerID: "stuck")
        let silent = try SyntheticNode(port: server.port, peerID: "silent")
        for node in [steady, stuck, silent] { try node.importBlock(1) }
        var height = 1
        var states: [String: [String: Any]] = [:]
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            height += 1
            try steady.importBlock(height)
            try stuck.interval(best: 1, finalized: 1)
            usleep(400_000)
            states = try nodes(SyntheticNode.genesisA)
            if states["stuck"]?["stale"] as? Bool == true, states["silent"]?["online"] as? Bool == false { break }
        }
        XCTAssertEqual(states["stuck"]?["stale"] as? Bool, true, "\(states["stuck"] ?? [:])")
        XCTAssertEqual(states["stuck"]?["online"] as? Bool, true)
        XCTAssertEqual(states["silent"]?["online"] as? Bool, false)
        XCTAssertEqual(states["silent"]?["stale"] as? Bool, false, "offline, not stale")
        XCTAssertEqual(states["steady"]?["stale"] as? Bool, false)
        XCTAssertEqual(states["steady"]?["online"] as? Bool, true)
        let chain = try XCTUnwrap(try object("/chains/\(SyntheticNode.genesisA)"))
        XCTAssertEqual(chain["nodes_stale"] as? Int, 1)
        XCTAssertEqual(chain["nodes_online"] as? Int, 2)
        XCTAssertEqual(chain["nodes_total"] as? Int, 3)
        // Stale nodes are listed last.
        XCTAssertEqual(try array("/chains/\(SyntheticNode.genesisA)/nodes")?.last?["peer_id"] as? String, "stuck")
        _ = silent
    }

    /// Four nodes import block 10 at known offsets (0, 200, 400, 600 ms);
    /// the last one's clock is an hour fast, which must not matter. Two of
    /// them then import two different blocks at height 11: a fork.
    func testPropagationOfKnownSendTimesAndAFork() throws {
        let nodes = try (0..<4).map { try SyntheticNode(port: server.port, peerID: "p\($0)", clockSkew: $0 == 3 ? 3600 : 0) }
        for node in nodes { try node.interval(best: 9, finalized: 8) }
        eventually(10, "four nodes known") { try self.nodes(SyntheticNode.genesisA).count == 4 }
        for (index, node) in nodes.enumerated() {
            if index > 0 { usleep(200_000) }
            try node.importBlock(10)
        }
        try nodes[0].importBlock(11)
        try nodes[1].importBlock(11, fork: 1)

        var blocks: [[String: Any]] = []
        eventually(10, "blocks 10 and both 11s with every import") {
            blocks = try self.array("/chains/\(SyntheticNode.genesisA)/blocks") ?? []
            return blocks.count == 3 && blocks.last?["nodes"] as? Int == 4
        }
        XCTAssertEqual(blocks.map { $0["height"] as? Int }, [11, 11, 10], "newest first, the fork as two rows")
        XCTAssertEqual(Set(blocks.prefix(2).compactMap { $0["hash"] as? String }),
                       [SyntheticNode.hash(11), SyntheticNode.hash(11, fork: 1)])
        let ten = try XCTUnwrap(blocks.last)
        XCTAssertEqual(ten["first_peer_id"] as? String, "p0")
        XCTAssertEqual(ten["nodes"] as? Int, 4)
        // Delays 0, 200, 400, 600 ms as sent; nearest rank: p50 the 2nd, p90 the 4th.
        let tolerance = 150
        for (field, expected) in [("propagation_p50_ms", 200), ("propagation_p90_ms", 600), ("propagation_max_ms", 600)] {
            let value = try XCTUnwrap(ten[field] as? Int, field)
            XCTAssertTrue(abs(value - expected) <= tolerance, "\(field) \(value), sent \(expected)")
        }
        var propagation = -1
        eventually(10, "the skewed node's own figure") {
            propagation = try self.object("/nodes/p3/state")?["propagation_ms"] as? Int ?? -1
            return propagation >= 0
        }
        XCTAssertTrue(abs(propagation - 600) <= tolerance, "the skewed node's own figure: \(propagation)")
        XCTAssertEqual(ten["first_seen"] as? String == nil, false)
    }
}
