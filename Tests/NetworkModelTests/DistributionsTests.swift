import NetworkModel
import XCTest

final class DistributionsTests: XCTestCase {
    private func node(version: String?, cpu: String? = nil, memory: Int64? = nil, kernel: String? = nil,
                      vm: Bool? = nil, cpuScore: Int64? = nil) -> NodeState {
        var node = NodeState(identity: NodeIdentity(peerID: UUIDish.next(), version: version,
                                                    system: SystemInfo(cpu: cpu, memory: memory, linuxKernel: kernel, isVirtualMachine: vm)),
                             connectedAtMs: 0)
        node.hardware.cpuHashrate = cpuScore
        return node
    }

    private func entries(_ name: String, _ nodes: [NodeState]) -> [String: Int] {
        let distribution = Distributions.compute(nodes).first { $0.name == name }
        return Dictionary(uniqueKeysWithValues: (distribution?.entries ?? []).map { ($0.label, $0.count) })
    }

    func testTopTenThenOtherAndUnknown() {
        var nodes: [NodeState] = []
        for index in 0..<12 { nodes += Array(repeating: node(version: "1.\(index)"), count: 12 - index) }
        nodes += [node(version: nil), node(version: "")]
        let distribution = Distributions.compute(nodes).first { $0.name == "version" }!
        XCTAssertEqual(distribution.entries.prefix(2).map(\.label), ["1.0", "1.1"], "most common first")
        XCTAssertEqual(distribution.entries.count, 12)
        XCTAssertEqual(distribution.entries[10], .init("other", 2 + 1), "1.10 and 1.11")
        XCTAssertEqual(distribution.entries[11], .init("unknown", 2))
        XCTAssertEqual(distribution.entries.reduce(0) { $0 + $1.count }, nodes.count)
    }

    func testMemoryBucketsInReferenceGigabytes() {
        let gb: Int64 = 1024 * 1024 * 1000
        XCTAssertEqual(MemoryBucket.label(gb - 1), "< 1 GB")
        XCTAssertEqual(MemoryBucket.label(gb), "1-2 GB")
        XCTAssertEqual(MemoryBucket.label(67_108_864_000), "64-128 GB", "64 GiB-ish of the example node: 64,000 MiB = 64 GB")
        XCTAssertEqual(MemoryBucket.label(128 * gb), "128+ GB")
        let counts = entries("memory", [node(version: nil, memory: 3 * gb), node(version: nil, memory: 3 * gb + 1), node(version: nil)])
        XCTAssertEqual(counts, ["2-4 GB": 2, "unknown": 1])
    }

    func testHardwareScoreBucketsAgainstTheReference() {
        XCTAssertEqual(HardwareScore.label(1028, reference: HardwareScore.cpuReference), "90-110% (baseline)")
        XCTAssertEqual(HardwareScore.label(1712, reference: HardwareScore.cpuReference), "150-200%")
        XCTAssertEqual(HardwareScore.label(0, reference: HardwareScore.cpuReference), "0-10%")
        XCTAssertEqual(HardwareScore.label(-5, reference: HardwareScore.cpuReference), "0-10%")
        XCTAssertEqual(HardwareScore.label(5140, reference: HardwareScore.cpuReference), "500%+")
        XCTAssertEqual(HardwareScore.label(5139, reference: HardwareScore.cpuReference), "400-500%")
        XCTAssertEqual(HardwareScore.label(640, reference: HardwareScore.diskRandomReference), "200-300%")
        let distribution = Distributions.compute([node(version: nil, cpuScore: 1712), node(version: nil, cpuScore: 100), node(version: nil)])
            .first { $0.name == "cpu_hashrate_score" }!
        XCTAssertEqual(distribution.entries, [.init("0-10%", 1), .init("150-200%", 1), .init("unknown", 1)], "bucket order, not count order")
    }

    func testCPUVendorKernelAndVirtualMachine() {
        XCTAssertEqual(CPUVendor.of("AMD Ryzen 9 7950X3D 16-Core Processor"), "AMD")
        XCTAssertEqual(CPUVendor.of("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz"), "Intel")
        XCTAssertEqual(CPUVendor.of("Apple M2 Pro"), "Apple")
        XCTAssertEqual(CPUVendor.of("Neoverse-N1"), "ARM")
        XCTAssertEqual(CPUVendor.of("QEMU Virtual CPU"), "Other")
        XCTAssertEqual(Distributions.kernelRelease("6.1.0-27-amd64"), "6.1.0")
        XCTAssertEqual(Distributions.kernelRelease("5.15.0+rpt-rpi-v8"), "5.15.0")
        let nodes = [node(version: nil, kernel: "6.1.0-27-amd64", vm: false), node(version: nil, kernel: "6.1.0-28-amd64", vm: true)]
        XCTAssertEqual(entries("linux_kernel", nodes), ["6.1.0": 2])
        XCTAssertEqual(Distributions.compute(nodes).first { $0.name == "is_virtual_machine" }?.entries,
                       [.init("true", 1), .init("false", 1)])
    }
}

/// Distinct peer ids for fixtures.
enum UUIDish {
    nonisolated(unsafe) private static var counter = 0
    static func next() -> String {
        counter += 1
        return "peer-\(counter)"
    }
}
