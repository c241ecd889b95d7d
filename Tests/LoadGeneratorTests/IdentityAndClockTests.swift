import LoadGenerator
@testable import TestSupport
import XCTest

final class IdentityAndClockTests: XCTestCase {
    func testIdentityIsAFunctionOfSeedIndexAndPrefix() {
        let node = NodeIdentity(seed: 1, index: 0, namePrefix: "n-")
        XCTAssertEqual(node, NodeIdentity(seed: 1, index: 0, namePrefix: "n-"))
        XCTAssertEqual(node.name, "n-0")
        XCTAssertEqual(node.networkID.count, 52)
        XCTAssertTrue(node.networkID.hasPrefix("12D3KooW"))
        XCTAssertTrue(node.networkID.dropFirst(8).allSatisfy { "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".contains($0) })
        XCTAssertNotEqual(node.networkID, NodeIdentity(seed: 2, index: 0, namePrefix: "n-").networkID)
        XCTAssertNotEqual(node.networkID, NodeIdentity(seed: 1, index: 1, namePrefix: "n-").networkID)
        let fleet = Set((0..<10_000).map { NodeIdentity(seed: 9, index: $0, namePrefix: "").networkID })
        XCTAssertEqual(fleet.count, 10_000)
        let authorities = (0..<10_000).filter { NodeIdentity(seed: 9, index: $0, namePrefix: "").authority }.count
        XCTAssertEqual(Double(authorities), 2_500, accuracy: 200)
    }

    func testIdentityOfSeedOneIsPinned() {
        // The seed's promise across releases: the same seed, the same fleet
        // (recorded once; a change here must be deliberate).
        let node = NodeIdentity(seed: 1, index: 0, namePrefix: "loadgen-")
        XCTAssertEqual(node.networkID, "12D3KooWSQkiG1X21QSnKXRvdz9Dao9tEh41vDmkLZfxcqJpNGou")
        XCTAssertEqual(node.uptimeAtRunStartMs, 362_762_693)
        XCTAssertEqual(node.startupTime(runStartMs: 1_767_225_600_000), 1_766_862_837_307)
        XCTAssertEqual(node.authority, true)
    }

    func testWallClockText() {
        XCTAssertEqual(WallClock.text(0), "1970-01-01T00:00:00.000000000+00:00")
        XCTAssertEqual(WallClock.text(951_782_400_000_000_001), "2000-02-29T00:00:00.000000001+00:00")
        XCTAssertEqual(WallClock.text(1_709_251_199_999_999_999), "2024-02-29T23:59:59.999999999+00:00")
        XCTAssertEqual(WallClock.text(Int64.max), "2262-04-11T23:47:16.854775807+00:00")
        XCTAssertEqual(WallClock.text(0).utf8.count, WallClock.textLength)
    }

    func testTargetURLs() throws {
        XCTAssertEqual(try TelemetryTarget(url: "ws://127.0.0.1:8080"), TelemetryTarget(host: "127.0.0.1", port: 8080, path: "/"))
        XCTAssertEqual(try TelemetryTarget(url: "ws://example.org/audit"), TelemetryTarget(host: "example.org", port: 80, path: "/audit"))
        XCTAssertEqual(try TelemetryTarget(url: "ws://[::1]:9/x?y"), TelemetryTarget(host: "::1", port: 9, path: "/x?y"))
        XCTAssertEqual(try TelemetryTarget(url: "ws://h:1/a").audit.path, "/audit")
        for bad in ["http://h", "wss://h", "ws://", "ws://h:0", "ws://h:70000", "ws://h:x", "ws://[::1"] {
            XCTAssertThrowsError(try TelemetryTarget(url: bad), bad)
        }
    }

    func testRealisticScheduleRates() {
        // Verbosity 0, what a node sends by default: 12 interval ticks of
        // two messages, a block import and a finality notification a block.
        let basic = RealisticSchedule()
        XCTAssertEqual(basic.messagesPerMinute(authority: false), 24 + 10 + 10)
        XCTAssertEqual(basic.messagesPerMinute(authority: true), 24 + 10 + 10)
        XCTAssertEqual(basic.kinds, ["system.interval", "block.import", "notify.finalized"])
        XCTAssertTrue(basic.catalogueKinds.isEmpty, "built from each node's own state")
        // Verbosity 1: 10 slots × 9 kinds, one network state per minute.
        let verbose = RealisticSchedule(verbosity: 1)
        XCTAssertEqual(verbose.messagesPerMinute(authority: false), 24 + 90 + 1)
        // Validators add 2 GRANDPA kinds per slot and 3 authorship kinds in
        // one slot of eight.
        XCTAssertEqual(verbose.messagesPerMinute(authority: true), 24 + 90 + 1 + 20 + 3.75)
        XCTAssertTrue(verbose.kinds.isSubset(of: [
            "system.interval", "system.network_state", "slots.starting_authorship", "prepared_block_for_proposing",
            "slots.pre_sealed_block", "block.import", "babe.checked_and_importing", "txpool.import",
            "afg.received_prevote", "afg.received_precommit", "afg.received_commit", "afg.finalized_blocks_up_to",
            "afg.finalized", "notify.finalized", "afg.commit_issued", "afg.announcing_blocks_to_voted_peers",
        ]))
        // Two-second blocks: three times as many block messages.
        XCTAssertEqual(RealisticSchedule(blockTimeMs: 2_000).messagesPerMinute(authority: false), 24 + 30 + 30)
    }

    func testCatalogueOfTheProjectHasEveryRealisticKind() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("telemetry_messages.json").path
        let catalogue = try MessageCatalogue(path: path)
        XCTAssertEqual(catalogue.samples.count, 18)
        XCTAssertTrue(RealisticSchedule(verbosity: 1).catalogueKinds.isSubset(of: Set(catalogue.samples.map(\.kind))))
        let interval = try XCTUnwrap(catalogue.sample("system.interval"))
        XCTAssertNil(interval.member("ts"))
        XCTAssertNil(interval.member("msg"))
        XCTAssertEqual(interval.member("cpu"), "7.25")
    }
}
