import NetworkModel
import XCTest

final class NodeStateTests: XCTestCase {
    func testBestOnlyRisesAndBlockTimeIsBetweenRises() {
        var node = Fixture.node("A")
        XCTAssertEqual(node.apply(Fixture.imported(10), atMs: 1_000), .bestRaised)
        XCTAssertNil(node.blockTimeMs, "no previous rise")
        XCTAssertEqual(node.apply(Fixture.imported(11), atMs: 7_250), .bestRaised)
        XCTAssertEqual(node.best, BlockRef(height: 11, hash: Fixture.hash(11)))
        XCTAssertEqual(node.bestAtMs, 7_250)
        XCTAssertEqual(node.blockTimeMs, 6_250)
        XCTAssertEqual(node.apply(Fixture.imported(9), atMs: 8_000), [], "a lower block (sampled sync) changes nothing")
        XCTAssertEqual(node.apply(Fixture.interval(best: 11, finalized: 9), atMs: 9_000), [.finalizedRaised, .counters],
                       "the interval repeating the best is no rise")
        XCTAssertEqual(node.bestAtMs, 7_250)
        XCTAssertEqual(node.lastMessageAtMs, 9_000)
    }

    func testAForkAtTheSameHeightIsReportedButKeepsTheBest() {
        var node = Fixture.node("A")
        node.apply(Fixture.imported(20), atMs: 0)
        XCTAssertEqual(node.apply(Fixture.imported(20, fork: 1), atMs: 500), .bestForked)
        XCTAssertEqual(node.best?.hash, Fixture.hash(20), "the reference server ignores a re-org at the same height")
        XCTAssertEqual(node.bestAtMs, 0)
    }

    func testFinalizedOnlyRisesFromEitherMessage() {
        var node = Fixture.node("A")
        XCTAssertEqual(node.apply(Fixture.finalized(5), atMs: 0), .finalizedRaised)
        XCTAssertEqual(node.apply(Fixture.interval(best: 8, finalized: 4), atMs: 10), [.bestRaised, .counters],
                       "finalized 4 < 5 is ignored")
        XCTAssertEqual(node.finalized?.height, 5)
        XCTAssertEqual(node.finalityLag, 3)
        XCTAssertEqual(node.apply(Fixture.finalized(7), atMs: 20), .finalizedRaised)
        XCTAssertEqual(node.finalityLag, 1)
    }

    func testCountersAndHardwareChangeOnlyWhenTheyDiffer() {
        var node = Fixture.node("A")
        let network = NodeReport(kind: .interval, peers: 42, bandwidthDownload: 183_214, bandwidthUpload: 97_321)
        XCTAssertEqual(node.apply(network, atMs: 0), .counters)
        XCTAssertEqual(node.apply(network, atMs: 5_000), [], "the same figures again")
        XCTAssertEqual(node.peers, 42)
        let bench = NodeReport(kind: .hardwareBenchmark, hardware: HardwareScores(cpuHashrate: 1712, memoryMemcpy: 24880))
        XCTAssertEqual(node.apply(bench, atMs: 0), .hardware)
        XCTAssertEqual(node.apply(NodeReport(kind: .hardwareBenchmark, hardware: HardwareScores(diskRandomWrite: 640)), atMs: 0), .hardware)
        XCTAssertEqual(node.hardware, HardwareScores(cpuHashrate: 1712, memoryMemcpy: 24880, diskRandomWrite: 640), "merged")
    }

    func testTheTargetIsSplitOffAnOldVersionOnly() {
        var old = NodeIdentity(peerID: "P", version: "0.8.28-4c22d1a9-x86_64-linux-gnu")
        old.splitTargetFromVersion()
        XCTAssertEqual([old.version, old.arch, old.os, old.env], ["0.8.28-4c22d1a9", "x86_64", "linux", "gnu"])
        var noEnv = NodeIdentity(peerID: "P", version: "1.2.0-abc-aarch64-macos")
        noEnv.splitTargetFromVersion()
        XCTAssertEqual([noEnv.version, noEnv.arch, noEnv.os, noEnv.env], ["1.2.0-abc", "aarch64", "macos", ""])
        var current = NodeIdentity(peerID: "P", version: "0.9.43-5a1f7c2e9b4", os: "linux", arch: "x86_64")
        current.splitTargetFromVersion()
        XCTAssertEqual(current.version, "0.9.43-5a1f7c2e9b4")
        var plain = NodeIdentity(peerID: "P", version: "x86_64-linux")
        plain.splitTargetFromVersion()
        XCTAssertEqual(plain.version, "x86_64-linux", "an architecture first is no target suffix")
        XCTAssertNil(plain.arch)
    }

    func testAConnectedReportSetsTheIdentityWithTheTargetSplit() {
        var node = NodeState(identity: NodeIdentity(peerID: "P"), connectedAtMs: 0)
        let identity = NodeIdentity(peerID: "P", name: "old", version: "0.9.17-75dd6c7d0-x86_64-linux-gnu")
        XCTAssertEqual(node.apply(NodeReport(kind: .connected, identity: identity), atMs: 0), .identity)
        XCTAssertEqual(node.identity.version, "0.9.17-75dd6c7d0")
        XCTAssertEqual(node.identity.os, "linux")
    }
}
