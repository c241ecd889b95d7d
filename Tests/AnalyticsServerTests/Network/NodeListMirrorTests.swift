@testable import AnalyticsServer
import Foundation
import NetworkModel
import XCTest

/// The node-list worker's mirror: fed a view's changes, it lists each
/// chain's nodes exactly as building the list from the whole state would,
/// in every order and filter, after nodes change, move chain or leave.
final class NodeListMirrorTests: XCTestCase {
    static let chainA = "0xaaaa", chainB = "0xbbbb"
    static let rules = LivenessRules(idleMs: 60_000, staleAfterMs: 120_000)
    static let now: Int64 = 1_764_580_000_000

    private func node(_ peer: String, name: String?, genesis: String? = chainA, height: Int64?, bestAgoMs: Int64 = 1000,
                      propagation: Int64? = nil, peers: Int64? = nil, silentMs: Int64 = 0) -> NodeState {
        var node = NodeState(identity: NodeIdentity(peerID: peer, name: name, chain: "Tetcore", genesisHash: genesis,
                                                    version: "0.9.\(peer.count)", startupTimeMs: NodeListMirrorTests.now - 5000),
                             connectedAtMs: NodeListMirrorTests.now - 600_000)
        node.lastMessageAtMs = NodeListMirrorTests.now - silentMs
        node.best = height.map { BlockRef(height: $0, hash: "0x\($0)") }
        node.bestAtMs = height.map { _ in NodeListMirrorTests.now - bestAgoMs }
        node.propagationMs = propagation
        node.peers = peers
        return node
    }

    /// The list built from the whole state, as the API built it per request.
    private func reference(_ nodes: [NodeState], _ genesis: String, online: Bool?, order: NodeOrder) -> [UInt8]? {
        let rules = NodeListMirrorTests.rules, now = NodeListMirrorTests.now
        var chain = nodes.filter { $0.genesisHash == genesis }
        guard !chain.isEmpty else { return nil }
        let summary = ChainSummary.summarize(genesisHash: genesis, nodes: chain, blocks: nil, nowMs: now, rules: rules)
        if let online { chain = chain.filter { $0.isOnline(nowMs: now, idleMs: rules.idleMs) == online } }
        var json = JSONWriter()
        json.beginArray()
        let stale = chain.map { summary.isStale($0, nowMs: now, rules: rules) }
        for index in order.order(chain.map(NodeSortKeys.init), stale: stale, nowMs: now) {
            NetworkJSON.node(chain[index], chain: summary, nowMs: now, rules: rules, into: &json)
        }
        json.endArray()
        return json.bytes
    }

    private func peerIDs(_ body: [UInt8]?) throws -> [String] {
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(XCTUnwrap(body))) as? [[String: Any]])
        return list.compactMap { $0["peer_id"] as? String }
    }

    private func assertMatchesReference(_ mirror: NodeListMirror, _ state: [String: NodeState],
                                        file: StaticString = #filePath, line: UInt = #line) {
        let orders = [NodeOrder()] + NodeOrder.Field.allCases.dropFirst().flatMap { field in
            [NodeOrder(field.rawValue), NodeOrder("-" + field.rawValue)].compactMap { $0 }
        }
        for genesis in [NodeListMirrorTests.chainA, NodeListMirrorTests.chainB, "0xnone"] {
            for online in [nil, true, false] as [Bool?] {
                for order in orders {
                    let made = mirror.body(of: genesis, online: online, order: order, nowMs: NodeListMirrorTests.now)
                    let expected = reference(Array(state.values), genesis, online: online, order: order)
                    XCTAssertEqual(made.map { String(decoding: $0, as: UTF8.self) }, expected.map { String(decoding: $0, as: UTF8.self) },
                                   "\(genesis) online=\(String(describing: online)) \(order)", file: file, line: line)
                }
            }
        }
    }

    func testListsMatchTheWholeStateThroughChangesMovesAndRemovals() throws {
        var state: [String: NodeState] = [:]
        var mirror = NodeListMirror(rules: NodeListMirrorTests.rules)
        func feed(changed: [NodeState], removed: [String] = []) {
            for node in changed { state[node.identity.peerID] = node }
            for peer in removed { state[peer] = nil }
            mirror.apply(NodeListUpdate(changed: changed, removed: removed, blocks: [:]))
        }
        feed(changed: [
            node("p1", name: "alice", height: 100, propagation: 40, peers: 25),
            node("p2", name: "bob", height: 100, propagation: 10, peers: 7),
            node("p3", name: nil, height: 97),
            node("p4", name: "dave", height: 90, bestAgoMs: 300_000, peers: 30), // stale: stuck while the chain moved
            node("p5", name: "eve", height: 100, silentMs: 120_000), // offline
            node("p6", name: "frank", genesis: NodeListMirrorTests.chainB, height: 5),
            node("p7", name: "no chain", genesis: nil, height: 1),
        ])
        assertMatchesReference(mirror, state)
        XCTAssertEqual(try peerIDs(mirror.body(of: NodeListMirrorTests.chainA, online: nil, order: NodeOrder(), nowMs: NodeListMirrorTests.now)),
                       ["p2", "p1", "p5", "p3", "p4"], "not stale first, height descending, propagation ascending, stale last")

        // p2 rises, p3 moves to chain B, p5 leaves, p8 arrives with no chain.
        feed(changed: [
            node("p2", name: "bob", height: 101, bestAgoMs: 0, propagation: 0, peers: 8),
            node("p3", name: "carol", genesis: NodeListMirrorTests.chainB, height: 6),
            node("p8", name: "grace", genesis: nil, height: nil),
        ], removed: ["p5"])
        assertMatchesReference(mirror, state)
        XCTAssertEqual(try peerIDs(mirror.body(of: NodeListMirrorTests.chainB, online: nil, order: NodeOrder("name")!,
                                               nowMs: NodeListMirrorTests.now)), ["p3", "p6"])

        // Chain B's nodes all go: the chain is unknown again.
        feed(changed: [node("p6", name: "frank", genesis: nil, height: 5)], removed: ["p3"])
        assertMatchesReference(mirror, state)
        XCTAssertNil(mirror.body(of: NodeListMirrorTests.chainB, online: nil, order: NodeOrder(), nowMs: NodeListMirrorTests.now))
        XCTAssertNil(mirror.chains[NodeListMirrorTests.chainB], "an empty chain is not kept")
    }
}
