/// What a synthetic node runs and on what: its release, target and
/// hardware (`system.connected`'s `version`, `target_*` and `sysinfo`) and
/// its `sysinfo.hwbench` scores. A pure function of (seed, index), drawn
/// from a few common machines so that a chain's distributions have more
/// than one bucket.
package struct NodeMachine: Equatable {
    package struct Hardware: Equatable {
        package let cpu: String
        package let arch: String
        package let coreCount: Int
        package let memoryBytes: UInt64
        package let linuxKernel: String
        package let linuxDistro: String
        package let isVirtualMachine: Bool
    }

    package let implementation = "Tetcore Node"
    package let version: String
    package let os = "linux"
    package let env = "gnu"
    package let hardware: Hardware
    /// MiB/s, as `sysinfo.hwbench` has them.
    package let cpuScore: UInt64
    package let parallelCPUScore: UInt64
    package let memoryScore: UInt64
    package let diskSequentialScore: UInt64
    package let diskRandomScore: UInt64

    /// Newest first; most nodes run the newest.
    static let versions = ["0.9.43-5a1f7c2e9b4", "0.9.43-5a1f7c2e9b4", "0.9.43-5a1f7c2e9b4", "0.9.42-81c3e0b1d27", "0.9.41-3d7f2a9c0e5"]

    static let machines: [Hardware] = [
        Hardware(cpu: "AMD Ryzen 9 7950X3D 16-Core Processor", arch: "x86_64", coreCount: 16, memoryBytes: 67_108_864_000,
                 linuxKernel: "6.1.0-27-amd64", linuxDistro: "Debian GNU/Linux 12 (bookworm)", isVirtualMachine: false),
        Hardware(cpu: "Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", arch: "x86_64", coreCount: 4, memoryBytes: 16_777_216_000,
                 linuxKernel: "5.15.0-1051-aws", linuxDistro: "Ubuntu 22.04.4 LTS", isVirtualMachine: true),
        Hardware(cpu: "AMD EPYC 7R13 Processor", arch: "x86_64", coreCount: 8, memoryBytes: 33_554_432_000,
                 linuxKernel: "6.8.0-45-generic", linuxDistro: "Ubuntu 24.04.1 LTS", isVirtualMachine: true),
        Hardware(cpu: "Neoverse-N1", arch: "aarch64", coreCount: 8, memoryBytes: 33_554_432_000,
                 linuxKernel: "6.1.0-26-arm64", linuxDistro: "Debian GNU/Linux 12 (bookworm)", isVirtualMachine: true),
    ]

    package init(seed: UInt64, index: Int) {
        var random = SeededRandom(seed: seed, stream: 9, index: index)
        version = NodeMachine.versions[Int(random.next() % UInt64(NodeMachine.versions.count))]
        hardware = NodeMachine.machines[Int(random.next() % UInt64(NodeMachine.machines.count))]
        // Around the reference machine's scores (CPU 1028, memory 14899,
        // disk 485 and 222 MiB/s), from half to twice them.
        func around(_ reference: UInt64) -> UInt64 { reference / 2 + random.next() % (reference * 3 / 2) }
        cpuScore = around(1_028)
        parallelCPUScore = cpuScore * UInt64(hardware.coreCount) * 9 / 10
        memoryScore = around(14_899)
        diskSequentialScore = around(485)
        diskRandomScore = around(222)
    }
}
