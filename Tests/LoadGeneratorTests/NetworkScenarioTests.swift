import LoadGenerator
@testable import TestSupport
import XCTest

final class NetworkScenarioTests: XCTestCase {
    func testArguments() throws {
        XCTAssertEqual(try ScenarioArguments.lagging("2"), .init(count: 2, blocks: 3))
        XCTAssertEqual(try ScenarioArguments.lagging("2:5"), .init(count: 2, blocks: 5))
        XCTAssertEqual(try ScenarioArguments.delayed("1:20s", "--stalled"), .init(count: 1, afterMs: 20_000))
        XCTAssertEqual(try ScenarioArguments.delayed("1:1.5", "--silent"), .init(count: 1, afterMs: 1_500))
        XCTAssertEqual(try ScenarioArguments.delayed("3", "--silent"), .init(count: 3, afterMs: 30_000))
        XCTAssertEqual(try ScenarioArguments.fork("12"), .init(block: 12, count: 1))
        XCTAssertEqual(try ScenarioArguments.fork("12:4"), .init(block: 12, count: 4))
        XCTAssertEqual(try ScenarioArguments.skew("2:-30"), .init(count: 2, nanoseconds: -30_000_000_000))
        XCTAssertEqual(try ScenarioArguments.milliseconds("500ms", "--propagation"), 500)
        for (bad, option) in [("0", "--lagging"), ("x:3", "--lagging"), ("1:0", "--lagging"), ("1:soon", "--stalled"),
                              ("0:3", "--fork"), ("3:0", "--fork"), ("2", "--skew"), ("2:x", "--skew")] {
            XCTAssertThrowsError(try {
                switch option {
                case "--lagging": _ = try ScenarioArguments.lagging(bad)
                case "--fork": _ = try ScenarioArguments.fork(bad)
                case "--skew": _ = try ScenarioArguments.skew(bad)
                default: _ = try ScenarioArguments.delayed(bad, option)
                }
            }(), "\(option) \(bad)") { error in
                XCTAssertTrue("\(error)".contains(option), "\(error) names \(option)")
            }
        }
    }

    func testRolesGoFromTheLastNodeBackwardsAndSpareEachChainsFirst() {
        var scenario = NetworkScenario()
        scenario.chains = 2
        scenario.lagging = .init(count: 1, blocks: 3)
        scenario.stalled = .init(count: 1, afterMs: 4_000)
        scenario.fork = .init(block: 4, count: 2)
        scenario.silent = .init(count: 1, afterMs: 3_000)
        scenario.skew = .init(count: 1, nanoseconds: 5)
        let roles = (0..<12).map { scenario.role(of: $0, nodes: 12).name }
        XCTAssertEqual(roles, [nil, nil, nil, nil, nil, nil, "skew", "silent", "fork", "fork", "stalled", "lagging"])
        XCTAssertEqual(scenario.role(of: 11, nodes: 12).lagBlocks, 3)
        XCTAssertEqual(scenario.role(of: 8, nodes: 12).forkBlock, 4)
        XCTAssertNil(scenario.problem(nodes: 12))
        XCTAssertNotNil(scenario.problem(nodes: 7), "6 roles and 2 first nodes need 8 nodes")
        XCTAssertNil(scenario.problem(nodes: 8))
        scenario.propagationMs = 6_000
        XCTAssertNotNil(scenario.problem(nodes: 12), "propagation must be shorter than the block time")
    }

    func testChainsPlacementAndDelays() {
        let chains = (0..<3).map { SyntheticChain(seed: 1, index: $0, chains: 3, fleet: 10) }
        XCTAssertEqual(chains.map(\.nodes), [4, 3, 3])
        XCTAssertEqual(Set(chains.map(\.genesisHash)).count, 3)
        XCTAssertEqual(SyntheticChain.chain(of: 7, chains: 3), 1)
        XCTAssertEqual(SyntheticChain.position(of: 7, chains: 3), 2)
        XCTAssertEqual((0..<4).map { chains[0].delayMs(position: $0, propagationMs: 1_000) }, [0, 250, 500, 750])
        XCTAssertEqual(chains[0].blockHash(height: 9), chains[0].blockHash(height: 9))
        XCTAssertNotEqual(chains[0].blockHash(height: 9), chains[1].blockHash(height: 9))
        XCTAssertNotEqual(chains[0].blockHash(height: 9), chains[0].blockHash(height: 9, forked: true))
        XCTAssertNotEqual(chains[0].blockHash(height: 9), chains[0].blockHash(height: 10))
    }

    func testFollowerImportsOnlyNewBestBlocks() {
        let chain = SyntheticChain(seed: 1, index: 0, chains: 1, fleet: 4)
        let base = ChainHeight.base
        var node = ChainFollower(chain: chain, role: NodeRole(), firstBlock: 5)
        XCTAssertEqual(node.best.height, base + 4, "joined holding the block before")
        XCTAssertEqual(node.finalized.height, base + 2)
        XCTAssertEqual(node.blockArrived(5, elapsedMs: 0)?.block, .init(height: base + 5, hash: chain.blockHash(height: base + 5)))
        XCTAssertEqual(node.blockArrived(5, elapsedMs: 0)?.origin, nil, "the same block again: no new best, no import")
        XCTAssertEqual(node.blockArrived(6, elapsedMs: 0)?.origin, "NetworkBroadcast")
        XCTAssertEqual(node.finalityArrived()?.height, base + 4)
        XCTAssertNil(node.finalityArrived(), "finality did not move")
    }

    func testFollowerRoles() {
        let chain = SyntheticChain(seed: 1, index: 0, chains: 1, fleet: 4)
        let base = ChainHeight.base
        var role = NodeRole()
        role.lagBlocks = 3
        var lagging = ChainFollower(chain: chain, role: role, firstBlock: 10)
        XCTAssertEqual(lagging.blockArrived(10, elapsedMs: 0)?.block.height, base + 7)
        XCTAssertEqual(lagging.blockArrived(11, elapsedMs: 0)?.origin, "NetworkInitialSync")

        role = NodeRole()
        role.stallAfterMs = 1_000
        var stalled = ChainFollower(chain: chain, role: role, firstBlock: 0)
        XCTAssertNotNil(stalled.blockArrived(0, elapsedMs: 999))
        XCTAssertNil(stalled.blockArrived(1, elapsedMs: 1_000))
        XCTAssertEqual(stalled.best.height, base)

        role = NodeRole()
        role.forkBlock = 4
        var forked = ChainFollower(chain: chain, role: role, firstBlock: 3)
        XCTAssertEqual(forked.blockArrived(3, elapsedMs: 0)?.block.hash, chain.blockHash(height: base + 3))
        XCTAssertEqual(forked.blockArrived(4, elapsedMs: 0)?.block.hash, chain.blockHash(height: base + 4, forked: true))
        XCTAssertEqual(forked.blockArrived(5, elapsedMs: 0)?.block.hash, chain.blockHash(height: base + 5))
        _ = forked.finalityArrived()
        _ = forked.blockArrived(6, elapsedMs: 0)
        XCTAssertEqual(forked.finalityArrived(), .init(height: base + 4, hash: chain.blockHash(height: base + 4)),
                       "the chain's block is finalized, not the fork's")
    }
}
