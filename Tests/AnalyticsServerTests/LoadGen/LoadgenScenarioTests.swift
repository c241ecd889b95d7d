import Foundation
@testable import TestSupport
import XCTest

/// tetcore-loadgen's network scenarios against the real server: what the
/// server's network model shows must be what the generator was told to do.
///
/// 12 nodes on 2 chains (even indices on chain 1, odd on chain 2; position
/// index / 2 of 6), a block every 2 s, each chain's nodes importing it
/// spread over 1 s (position p imports 1000 × p / 6 ms after position 0).
/// Roles from the last node backwards: 11 lags 3 blocks, 10 stalls after
/// 4 s, 9 forks at block 4, 8 goes silent after 3 s, 7's clock is an hour
/// fast.
final class LoadgenScenarioTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["DB_SAVE_LATENCY_MS": "10", "NODE_ID_IDLE_S": "4", "NETWORK_STALE_S": "3", "NETWORK_SERIES_STEP_S": "1"]
    }

    private static let base = 10_000_100
    /// The server times arrivals with its own clock: the generator's tick
    /// (10 ms), both loops and a busy machine add to the configured delay.
    private static let tolerance = 150

    private func delayMs(_ index: Int) -> Int { 1000 * (index / 2) / 6 }

    func testScenariosShowOnTheServerAsConfigured() throws {
        let run = try LoadgenProcess([
            "--url", "ws://127.0.0.1:\(server.port)", "--nodes", "12", "--chains", "2", "--block-time", "2s",
            "--propagation", "1s", "--lagging", "1:3", "--stalled", "1:4s", "--fork", "4", "--silent", "1:3s",
            "--skew", "1:3600", "--seed", "77", "--name-prefix", "scn-", "--duration", "90s",
            "--verify", database.url, "--json",
        ])
        defer { run.interrupt() }

        // Two chains, named, six nodes each.
        var chains: [[String: Any]] = []
        eventually(20, "two chains with six nodes each") {
            chains = try self.array("/chains") ?? []
            return chains.count == 2 && chains.allSatisfy { $0["nodes_total"] as? Int == 6 }
        }
        let genesisByName = Dictionary(chains.compactMap { chain in
            (chain["name"] as? String).flatMap { name in (chain["genesis_hash"] as? String).map { (name, $0) } }
        }) { a, _ in a }
        let genesis = try [0, 1].map { try XCTUnwrap(genesisByName["Tetcore Loadgen \($0 + 1)"], "\(chains)") }
        XCTAssertNotEqual(genesis[0], genesis[1])

        // Every node on its chain, with the identity it sent.
        let connected = try storedConnected()
        XCTAssertEqual(connected.count, 12)
        var nodes: [[String: [String: Any]]] = []
        eventually(20, "every node's identity and hardware scores") {
            nodes = try genesis.map { try self.nodes($0) }
            return nodes.allSatisfy { $0.count == 6 && $0.values.allSatisfy { $0["hwbench"] is [String: Any] } }
        }
        for (chain, list) in nodes.enumerated() {
            for node in list.values {
                let name = try XCTUnwrap(node["name"] as? String)
                let index = try XCTUnwrap(Int(name.dropFirst("scn-".count)))
                XCTAssertEqual(index % 2, chain, "\(name) on chain \(chain + 1)")
                let sent = try XCTUnwrap(connected[name])
                XCTAssertEqual(node["version"] as? String, sent["version"] as? String, name)
                XCTAssertEqual(node["implementation"] as? String, "Tetcore Node")
                XCTAssertEqual(node["arch"] as? String, sent["target_arch"] as? String)
                let sysinfo = try XCTUnwrap(node["sysinfo"] as? [String: Any])
                let sentSysinfo = try XCTUnwrap(sent["sysinfo"] as? [String: Any])
                for field in ["cpu", "linux_kernel", "linux_distro"] {
                    XCTAssertEqual(sysinfo[field] as? String, sentSysinfo[field] as? String, "\(name) \(field)")
                }
                for field in ["memory", "core_count"] {
                    XCTAssertEqual(sysinfo[field] as? Int, sentSysinfo[field] as? Int, "\(name) \(field)")
                }
                XCTAssertEqual(sysinfo["is_virtual_machine"] as? Bool, sentSysinfo["is_virtual_machine"] as? Bool)
                let hwbench = try XCTUnwrap(node["hwbench"] as? [String: Any])
                XCTAssertGreaterThan(hwbench["cpu_hashrate_score"] as? Int ?? 0, 0, name)
            }
        }

        // The lagging node stays three blocks behind, and is not stale.
        eventually(20, "scn-11 three blocks behind") {
            let node = try self.object("/nodes/\(self.peer(11, in: nodes))/state")
            return node?["best_lag"] as? Int == 3 && node?["stale"] as? Bool == false
        }

        // The stalled node turns stale (online, its best stuck while the
        // chain's rises); the silent one goes offline.
        eventually(30, "scn-10 stale and online") {
            let node = try self.object("/nodes/\(self.peer(10, in: nodes))/state")
            return node?["stale"] as? Bool == true && node?["online"] as? Bool == true
        }
        eventually(30, "scn-8 offline") {
            try self.object("/nodes/\(self.peer(8, in: nodes))/state")?["online"] as? Bool == false
        }

        // The fork: two blocks at height base + 4 on chain 2, scn-9 alone
        // on the other one.
        let forkHeight = LoadgenScenarioTests.base + 4
        var atFork: [[String: Any]] = []
        eventually(30, "two blocks at the fork's height") {
            atFork = try (self.array("/chains/\(genesis[1])/blocks?limit=1000") ?? []).filter { $0["height"] as? Int == forkHeight }
            return atFork.count == 2
        }
        let forked = try XCTUnwrap(atFork.first { $0["nodes"] as? Int == 1 }, "\(atFork)")
        XCTAssertEqual(forked["first_peer_id"] as? String, try peer(9, in: nodes))
        XCTAssertEqual(try blocks(genesis[0]).filter { $0["height"] as? Int == forkHeight }.count, 1, "no fork on chain 1")

        // Propagation: a block after every role took effect. On chain 1,
        // nodes 0, 2, 4, 6 import it (10 stalled, 8 silent): delays 0, 166,
        // 333, 500 ms; on chain 2, nodes 1, 3, 5, 7, 9 (11 lags, which a
        // server leaves out): 0 … 666 ms. Nearest rank.
        let later = LoadgenScenarioTests.base + 7
        let expected: [(chain: Int, nodes: Int, p50: Int, max: Int)] = [(0, 4, delayMs(2), delayMs(6)), (1, 5, delayMs(5), delayMs(9))]
        for truth in expected {
            var block: [String: Any] = [:]
            eventually(40, "a block of chain \(truth.chain + 1) after block 7 with \(truth.nodes) imports") {
                let rows = try self.blocks(genesis[truth.chain])
                guard let row = rows.last(where: { ($0["height"] as? Int ?? 0) >= later && $0["nodes"] as? Int == truth.nodes }) else { return false }
                block = row
                return true
            }
            XCTAssertEqual(block["first_peer_id"] as? String, try peer(truth.chain, in: nodes), "position 0 first")
            for (field, value) in [("propagation_p50_ms", truth.p50), ("propagation_max_ms", truth.max)] {
                let measured = try XCTUnwrap(block[field] as? Int, field)
                XCTAssertTrue(abs(measured - value) <= LoadgenScenarioTests.tolerance,
                              "chain \(truth.chain + 1) \(field) \(measured), configured \(value)")
            }
        }
        // Each node's own figure, the skewed one's (scn-7) included: its ts
        // is an hour off, its figure is its configured delay.
        for index in [1, 2, 3, 4, 5, 6, 7] {
            var propagation = -1
            eventually(20, "scn-\(index)'s propagation near \(delayMs(index)) ms") {
                propagation = try self.object("/nodes/\(self.peer(index, in: nodes))/state")?["propagation_ms"] as? Int ?? -1
                return propagation >= 0 && abs(propagation - self.delayMs(index)) <= LoadgenScenarioTests.tolerance
            }
        }
        let skewed = try XCTUnwrap(try object("/nodes/\(peer(7, in: nodes))/state"))
        XCTAssertEqual(skewed["online"] as? Bool, true)
        XCTAssertEqual(skewed["stale"] as? Bool, false)
        XCTAssertLessThanOrEqual(skewed["best_lag"] as? Int ?? 99, 1)

        // Every message still stored exactly once.
        run.interrupt()
        XCTAssertEqual(try run.wait(), 0, run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any], "\(summary)")
        XCTAssertEqual(verify["missing"] as? Int, 0)
        XCTAssertEqual(verify["duplicated"] as? Int, 0)
        // The summary names the chains and who had which role.
        let scenario = try XCTUnwrap(summary["scenario"] as? [String: Any])
        let chainsSent = try XCTUnwrap(scenario["chains"] as? [[String: Any]])
        XCTAssertEqual(chainsSent.compactMap { $0["genesis_hash"] as? String }, genesis)
        let roles = try XCTUnwrap(scenario["roles"] as? [String: [String]])
        XCTAssertEqual(roles, ["lagging": ["scn-11"], "stalled": ["scn-10"], "fork": ["scn-9"], "silent": ["scn-8"], "skew": ["scn-7"]])
    }

    /// Verbosity 1 adds the catalogue's consensus messages; GRANDPA's
    /// finality message names the node's own finalized block, as
    /// notify.finalized does.
    func testVerbosityOneAddsConsensusMessages() throws {
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", "ws://127.0.0.1:\(server.port)", "--nodes", "3", "--block-time", "1s", "--propagation", "100ms",
            "--verbosity", "1", "--duration", "5s", "--verify", database.url,
        ])
        XCTAssertEqual(status, 0, "\(summary)")
        XCTAssertEqual((summary["verify"] as? [String: Any])?["missing"] as? Int, 0)
        let kinds = Set(try database.query("SELECT DISTINCT logs->>'msg' FROM tetcore_logs").compactMap { $0[0] })
        XCTAssertTrue(kinds.isSuperset(of: ["babe.checked_and_importing", "afg.received_prevote", "afg.finalized_blocks_up_to",
                                            "notify.finalized", "block.import", "system.interval", "sysinfo.hwbench"]), "\(kinds)")
        // Per node, the same finalized heights from both messages.
        let mismatched = count("""
            SELECT count(*) FROM (
                SELECT peer_connection_id, logs->>'height' AS h FROM tetcore_logs WHERE logs->>'msg' = 'notify.finalized'
                EXCEPT SELECT peer_connection_id, logs->>'number' FROM tetcore_logs WHERE logs->>'msg' = 'afg.finalized_blocks_up_to') x
            """)
        XCTAssertEqual(mismatched, 0)
        XCTAssertGreaterThan(count("SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'notify.finalized'"), 6)
    }

    /// Node `index`'s peer id, from the node lists.
    private func peer(_ index: Int, in lists: [[String: [String: Any]]]) throws -> String {
        let name = "scn-\(index)"
        for list in lists {
            if let (peer, _) = list.first(where: { $0.value["name"] as? String == name }) { return peer }
        }
        throw TestFailure("\(name) is in no node list")
    }

    private func blocks(_ genesis: String) throws -> [[String: Any]] {
        try array("/chains/\(genesis)/blocks?limit=1000") ?? []
    }

    /// Each node's stored system.connected (its first), by name.
    private func storedConnected() throws -> [String: [String: Any]] {
        let rows = try database.query("SELECT DISTINCT ON (logs->>'name') logs::text FROM tetcore_logs WHERE logs->>'msg' = 'system.connected'")
        var byName: [String: [String: Any]] = [:]
        for row in rows {
            guard let text = row[0], let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  let name = object["name"] as? String else { continue }
            byName[name] = object
        }
        return byName
    }
}
