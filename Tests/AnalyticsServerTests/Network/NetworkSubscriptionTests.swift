import Foundation
@testable import TestSupport
import XCTest

/// /subscribe: the node list, then changes and blocks as they happen;
/// errors named; a slow client closed with 1008.
final class NetworkSubscriptionTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["DB_SAVE_LATENCY_MS": "10", "NODE_ID_IDLE_S": "30", "FEED_MAX_CLIENT_BACKLOG_BYTES": "65536"]
    }

    private func subscriber() throws -> FeedTestClient {
        let client = try FeedTestClient(port: server.port, path: "/subscribe")
        return client
    }

    /// Messages until one satisfies `done`, collecting them.
    /// Gives up after `seconds` even while messages keep coming (a stream
    /// of other updates must not hold the test forever).
    private func read(_ client: FeedTestClient, seconds: TimeInterval = 30, line: UInt = #line,
                      until done: ([String: Any]) -> Bool) throws -> [[String: Any]] {
        var messages: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let message = try client.next(timeout: 10)
            messages.append(message)
            if done(message) { return messages }
        }
        throw TestFailure("line \(line): no awaited message within \(Int(seconds)) s; the last ones: \(messages.suffix(3))")
    }

    func testTheNodeListThenChangesAndBlocks() throws {
        let a = try SyntheticNode(port: server.port, peerID: "sa")
        let b = try SyntheticNode(port: server.port, peerID: "sb")
        try a.interval(best: 50, finalized: 48)
        try b.interval(best: 49, finalized: 48)
        eventually(10, "both nodes known") { try self.nodes(SyntheticNode.genesisA).count == 2 }

        let client = try subscriber()
        try client.send(["subscribe": SyntheticNode.genesisA])
        let snapshot = try read(client) { $0["type"] as? String == "nodes" && $0["more"] as? Bool == false }
        XCTAssertEqual(snapshot.first?["type"] as? String, "chain", "the summary first")
        XCTAssertEqual((snapshot.first?["chain"] as? [String: Any])?["nodes_online"] as? Int, 2)
        let listed = snapshot.filter { $0["type"] as? String == "nodes" }.flatMap { $0["nodes"] as? [[String: Any]] ?? [] }
        XCTAssertEqual(Set(listed.compactMap { $0["peer_id"] as? String }), ["sa", "sb"])
        XCTAssertEqual(snapshot.last?["snapshot"] as? Bool, true)

        try a.importBlock(51)
        let update = try read(client) { message in
            (message["nodes"] as? [[String: Any]])?.contains { $0["peer_id"] as? String == "sa" && $0["best_height"] as? Int == 51 } == true
        }
        XCTAssertEqual(update.last?["snapshot"] as? Bool, false)
        XCTAssertEqual((update.last?["nodes"] as? [[String: Any]])?.count, 1, "only the node that changed")
        // The new block may come before or after the node's change.
        let isBlocks = { (message: [String: Any]) in message["type"] as? String == "blocks" }
        let block = try update.first(where: isBlocks) ?? read(client, until: isBlocks).last
        XCTAssertEqual((block?["blocks"] as? [[String: Any]])?.last?["height"] as? Int, 51)
        XCTAssertEqual((block?["blocks"] as? [[String: Any]])?.last?["hash"] as? String, SyntheticNode.hash(51))

        // A node that leaves is offline in the next update.
        b.client.resetOnClose()
        let gone = try read(client) { message in
            (message["nodes"] as? [[String: Any]])?.contains { $0["peer_id"] as? String == "sb" && $0["online"] as? Bool == false } == true
        }
        XCTAssertFalse(gone.isEmpty)
        withExtendedLifetime(a) {}
    }

    func testBadRequestsAreAnsweredAndTheConnectionStays() throws {
        let client = try subscriber()
        try client.raw.sendText("nonsense")
        XCTAssertTrue((try client.next()["error"] as? String)?.contains("JSON object") == true)
        try client.send(["subscribe": 5])
        XCTAssertEqual(try client.next()["error"] as? String, "subscribe must be a chain's genesis hash")
        try client.send(["listen": "x"])
        XCTAssertTrue((try client.next()["error"] as? String)?.hasPrefix("expected") == true)
        // An unknown chain is refused by name (once the view has loaded, if
        // it had not yet).
        try client.send(["subscribe": "0xnone"])
        XCTAssertEqual(try client.next()["error"] as? String, "unknown chain 0xnone")
    }

    /// A client that takes its node list, then stops reading while 400
    /// nodes (20 on each of 20 sockets) keep changing, is closed with 1008
    /// once the kernel's buffers are full and a refresh's updates are left.
    func testASlowClientIsClosed() throws {
        var nodes: [SyntheticNode] = []
        let name = String(repeating: "n", count: 240)
        for socket in 0..<20 {
            let first = try SyntheticNode(port: server.port, peerID: "slow-\(socket)-1", name: name)
            nodes.append(first)
            for id in 2...20 {
                nodes.append(try SyntheticNode(client: first.client, peerID: "slow-\(socket)-\(id)", name: name, id: id))
            }
        }
        for node in nodes { try node.interval(best: 1, finalized: 1) }
        eventually(20, "every node known") { try self.nodes(SyntheticNode.genesisA).count == 400 }
        let client = try FeedTestClient(port: server.port, path: "/subscribe", receiveBufferBytes: 2048)
        try client.send(["subscribe": SyntheticNode.genesisA])
        _ = try read(client) { $0["type"] as? String == "nodes" && $0["more"] as? Bool == false }
        var height = 2
        let deadline = Date().addingTimeInterval(40)
        var slow = false
        while !slow, Date() < deadline {
            for node in nodes { try node.interval(best: height, finalized: 1, peers: height) }
            height += 1
            usleep(300_000)
            slow = (try? Scrape.of(server))?["tetcore_subscription_clients_too_slow_total"] == 1
        }
        XCTAssertTrue(slow, "counted as too slow")
        XCTAssertEqual(try client.raw.readCloseCode(), 1008)
    }
}
