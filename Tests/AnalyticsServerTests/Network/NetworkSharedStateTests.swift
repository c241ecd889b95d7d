import Foundation
@testable import TestSupport
import XCTest

/// Two instances of two event loops each on one database: nodes spread
/// over all four loops, and every loop of either instance answers with the
/// same state for all of them, and the same propagation figures.
final class NetworkSharedStateTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["DB_SAVE_LATENCY_MS": "10", "NUM_THREADS": "2", "NODE_ID_IDLE_S": "30"]
    }

    /// The fields of a node that do not move with the clock.
    private func stable(_ node: [String: Any]) -> NSDictionary {
        var node = node
        node["uptime_s"] = nil
        return node as NSDictionary
    }

    func testEveryLoopOfEitherInstanceAnswersForEveryNodeAlike() throws {
        let other = try startServer()
        defer { _ = other.terminate(signal: SIGKILL) }
        let ports = [server.port, other.port]
        // Eight nodes, half on each instance; the kernel spreads each
        // instance's over its two loops.
        var nodes = try (0..<8).map { try SyntheticNode(port: ports[$0 % 2], peerID: "n\($0)") }
        for (index, node) in nodes.enumerated() {
            try node.interval(best: 100 + index, finalized: 90, peers: 10 + index)
        }
        // Node 0 (instance 1) imports block 200 first, node 1 (instance 2)
        // 300 ms later.
        try nodes[0].importBlock(200)
        usleep(300_000)
        try nodes[1].importBlock(200)

        var answers: [[String: [String: Any]]] = []
        eventually(20, "every loop of both instances lists the eight nodes alike") {
            answers = try (0..<8).map { try self.nodes(SyntheticNode.genesisA, port: ports[$0 % 2]) }
            guard answers.allSatisfy({ $0.count == 8 }) else { return false }
            let first = answers[0].mapValues(self.stable)
            return answers.allSatisfy { $0.mapValues(self.stable) == first }
        }
        let list = try XCTUnwrap(answers.first)
        XCTAssertEqual(list["n0"]?["best_height"] as? Int, 200)
        XCTAssertEqual(list["n1"]?["best_height"] as? Int, 200)
        XCTAssertEqual(list["n7"]?["best_height"] as? Int, 107)
        XCTAssertEqual(list["n7"]?["peers"] as? Int, 17)
        XCTAssertEqual(list["n7"]?["best_lag"] as? Int, 93)
        XCTAssertEqual(list["n0"]?["propagation_ms"] as? Int, 0)
        // Instance 2 learns of instance 1's earlier sighting within a
        // refresh and corrects its node's figure.
        eventually(10, "n1's propagation counted from n0's sighting on the other instance") {
            let late = try self.nodes(SyntheticNode.genesisA, port: other.port)["n1"]?["propagation_ms"] as? Int ?? -1
            return abs(late - 300) <= 150
        }

        for port in ports {
            let chain = try XCTUnwrap(try object("/chains/\(SyntheticNode.genesisA)", port: port))
            XCTAssertEqual(chain["nodes_online"] as? Int, 8)
            XCTAssertEqual(chain["best_height"] as? Int, 200)
        }
        var block: [String: Any]?
        eventually(10, "block 200 with both imports") {
            block = try self.array("/chains/\(SyntheticNode.genesisA)/blocks", port: other.port)?.first
            return block?["nodes"] as? Int == 2
        }
        XCTAssertEqual(block?["first_peer_id"] as? String, "n0")
        let max = try XCTUnwrap(block?["propagation_max_ms"] as? Int)
        XCTAssertTrue(abs(max - 300) <= 150, "merged across instances: \(max)")

        // A node that leaves one instance is offline on both.
        nodes[3].client.resetOnClose()
        nodes.remove(at: 3)
        eventually(10, "n3 offline everywhere") {
            try ports.allSatisfy { try self.nodes(SyntheticNode.genesisA, port: $0)["n3"]?["online"] as? Bool == false }
        }
        withExtendedLifetime(nodes) {}
    }
}
