import CSupport
import Foundation
import LoadGenerator
@testable import TestSupport
import XCTest

/// The generator's state-bearing messages have the forms current nodes
/// send (the spec's current_node_messages.json): members in the nodes'
/// order, each of the JSON type nodes give it.
final class CurrentNodeMessageTests: XCTestCase {
    private enum Kind: Equatable { case string, number, bool, object }

    private let identity = NodeIdentity(seed: 3, index: 5, namePrefix: "n-")
    private let machine = NodeMachine(seed: 3, index: 5)
    private let chain = SyntheticChain(seed: 3, index: 1, chains: 2, fleet: 10)

    /// The payload of a wrapped message as JSON, after checking the
    /// envelope: `id` 1, a `ts` string, `msg`, and the generator's own
    /// `loadgen_seq` (an extra member, which servers tolerate).
    private func payload(_ kind: String, _ members: CurrentNodeMessages.Members) throws -> (names: [String], values: [String: Any]) {
        let text = MessageText(kind: kind, members: members, wire: .wrapped, numbered: false)
        XCTAssertTrue(text.binary, "current nodes send binary frames")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.bytes)) as? [String: Any])
        XCTAssertEqual(object["id"] as? Int, 1)
        XCTAssertNotNil(object["ts"] as? String)
        let payload = try XCTUnwrap(object["payload"] as? [String: Any])
        XCTAssertEqual(payload["msg"] as? String, kind)
        XCTAssertNotNil(payload["loadgen_seq"])
        return (members.map(\.name), payload)
    }

    /// Member names in order, and each value's JSON type as written.
    private func assertForm(_ kind: String, _ members: CurrentNodeMessages.Members, _ form: [(String, Kind)],
                            file: StaticString = #filePath, line: UInt = #line) throws {
        _ = try payload(kind, members)
        XCTAssertEqual(members.map(\.name), form.map(\.0), kind, file: file, line: line)
        for (member, (name, type)) in zip(members, form) {
            let first = member.json.first
            let written: Kind? = switch first {
            case "\"": .string
            case "{": .object
            case "t", "f": .bool
            case let c? where c.isNumber || c == "-": .number
            default: nil
            }
            XCTAssertEqual(written, type, "\(kind).\(name) is \(member.json)", file: file, line: line)
        }
    }

    func testSystemConnected() throws {
        let members = CurrentNodeMessages.connected(identity, machine: machine, chain: chain, runStartMs: 1_796_000_000_000)
        try assertForm("system.connected", members, [
            ("name", .string), ("implementation", .string), ("version", .string), ("config", .string), ("chain", .string),
            ("genesis_hash", .string), ("authority", .bool), ("startup_time", .string), ("network_id", .string),
            ("target_os", .string), ("target_arch", .string), ("target_env", .string), ("sysinfo", .object),
        ])
        let values = try payload("system.connected", members).values
        XCTAssertEqual(values["config"] as? String, "")
        XCTAssertEqual(values["chain"] as? String, "Tetcore Loadgen 2")
        XCTAssertEqual(values["genesis_hash"] as? String, chain.genesisHash)
        XCTAssertTrue(chain.genesisHash.hasPrefix("0x") && chain.genesisHash.count == 66)
        XCTAssertEqual(values["startup_time"] as? String, String(1_796_000_000_000 - identity.uptimeAtRunStartMs),
                       "Unix ms as a string, counted back from the run's start")
        XCTAssertLessThan(identity.uptimeAtRunStartMs, 604_800_000, "up for less than a week")
        let sysinfo = try XCTUnwrap(values["sysinfo"] as? [String: Any])
        XCTAssertEqual(Set(sysinfo.keys), ["cpu", "memory", "core_count", "linux_kernel", "linux_distro", "is_virtual_machine"])
        XCTAssertEqual((sysinfo["memory"] as? NSNumber)?.uint64Value, machine.hardware.memoryBytes)
        XCTAssertEqual(sysinfo["core_count"] as? Int, machine.hardware.coreCount)
        XCTAssertEqual(sysinfo["cpu"] as? String, machine.hardware.cpu)
    }

    func testHardwareBench() throws {
        try assertForm("sysinfo.hwbench", CurrentNodeMessages.hardwareBench(machine), [
            ("cpu_hashrate_score", .number), ("parallel_cpu_hashrate_score", .number), ("memory_memcpy_score", .number),
            ("disk_sequential_write_score", .number), ("disk_random_write_score", .number),
        ])
    }

    func testBothIntervalForms() throws {
        let best = CurrentNodeMessages.Block(height: 23_811_042, hash: chain.blockHash(height: 23_811_042))
        let final = CurrentNodeMessages.Block(height: 23_811_040, hash: chain.blockHash(height: 23_811_040))
        let chainPart = CurrentNodeMessages.intervalChain(best: best, finalized: final, txcount: 4, stateCacheBytes: 876_543_210)
        try assertForm("system.interval", chainPart, [
            ("height", .number), ("best", .string), ("txcount", .number), ("finalized_height", .number),
            ("finalized_hash", .string), ("used_state_cache_size", .number),
        ])
        XCTAssertEqual(try payload("system.interval", chainPart).values["height"] as? Int, 23_811_042)
        try assertForm("system.interval", CurrentNodeMessages.intervalNetwork(peers: 42, downloadBytesPerSecond: 1, uploadBytesPerSecond: 2), [
            ("peers", .number), ("bandwidth_download", .number), ("bandwidth_upload", .number),
        ])
    }

    func testBlockImportHeightIsANumberAndFinalizedHeightAString() throws {
        let block = CurrentNodeMessages.Block(height: 23_811_043, hash: "0x7e")
        try assertForm("block.import", CurrentNodeMessages.blockImport(block, origin: "NetworkBroadcast"),
                       [("height", .number), ("best", .string), ("origin", .string)])
        try assertForm("notify.finalized", CurrentNodeMessages.finalized(block), [("height", .string), ("best", .string)])
        XCTAssertEqual(try payload("notify.finalized", CurrentNodeMessages.finalized(block)).values["height"] as? String, "23811043")
        try assertForm("afg.finalized_blocks_up_to", CurrentNodeMessages.finalizedUpTo(block), [("hash", .string), ("number", .string)])
    }

    func testOwnMessagesKeepTheirHeights() throws {
        // Not patched by the run's chain clock: a lagging node's height is its own.
        let block = CurrentNodeMessages.Block(height: 10_000_003, hash: "0x01")
        let text = MessageText(kind: "block.import", members: CurrentNodeMessages.blockImport(block, origin: "Own"), wire: .flat, numbered: false)
        XCTAssertTrue(text.heightOffsets.isEmpty)
        XCTAssertFalse(text.binary, "the flat form goes in text frames, as older nodes send it")
        XCTAssertTrue(String(decoding: text.bytes, as: UTF8.self).contains(#""height":10000003,"#))
    }

    func testMachinesAreAFunctionOfSeedAndIndex() {
        XCTAssertEqual(NodeMachine(seed: 3, index: 5), machine)
        let fleet = (0..<200).map { NodeMachine(seed: 3, index: $0) }
        XCTAssertGreaterThan(Set(fleet.map(\.version)).count, 1)
        XCTAssertGreaterThan(Set(fleet.map(\.hardware.cpu)).count, 1)
        XCTAssertTrue(fleet.allSatisfy { $0.cpuScore >= 514 && $0.cpuScore < 514 + 1_542 })
    }
}
