/// What a node says about itself in `system.connected`.
package struct NodeIdentity: Sendable, Equatable {
    /// libp2p peer id (`network_id`): how the API names a node.
    package var peerID: String
    package var name: String?
    /// The chain-spec name (`chain`); chains are keyed by `genesisHash`.
    package var chain: String?
    package var genesisHash: String?
    package var implementation: String?
    package var version: String?
    package var os: String?
    package var arch: String?
    package var env: String?
    package var authority: Bool?
    /// `startup_time`, Unix milliseconds on the node's clock.
    package var startupTimeMs: Int64?
    package var system: SystemInfo

    package init(peerID: String, name: String? = nil, chain: String? = nil, genesisHash: String? = nil,
                 implementation: String? = nil, version: String? = nil, os: String? = nil, arch: String? = nil,
                 env: String? = nil, authority: Bool? = nil, startupTimeMs: Int64? = nil, system: SystemInfo = SystemInfo()) {
        self.peerID = peerID
        self.name = name
        self.chain = chain
        self.genesisHash = genesisHash
        self.implementation = implementation
        self.version = version
        self.os = os
        self.arch = arch
        self.env = env
        self.authority = authority
        self.startupTimeMs = startupTimeMs
        self.system = system
    }

    /// Older nodes send no `target_os`/`target_arch`/`target_env` and put
    /// the target at the end of `version` instead
    /// (`0.9.17-75dd6c7d0-x86_64-linux-gnu`). This splits it off, as the
    /// reference server does, when the target fields are absent and the
    /// version ends with a known architecture, an OS and an optional
    /// environment; otherwise it changes nothing.
    package mutating func splitTargetFromVersion() {
        guard os == nil, arch == nil, let version else { return }
        let parts = version.split(separator: "-", omittingEmptySubsequences: false)
        // version, commit..., arch, os[, env]: the arch is at index 1 or later.
        guard let archIndex = parts.indices.dropFirst().first(where: { NodeIdentity.architectures.contains(String(parts[$0])) }),
              parts.count - archIndex == 2 || parts.count - archIndex == 3 else { return }
        self.version = parts[..<archIndex].joined(separator: "-")
        arch = String(parts[archIndex])
        os = String(parts[archIndex + 1])
        env = parts.count - archIndex == 3 ? String(parts[archIndex + 2]) : ""
    }

    /// Rust target architectures a node can be built for.
    static let architectures: Set<String> = [
        "x86_64", "x86", "i686", "i586", "aarch64", "arm", "armv7", "riscv64", "riscv64gc", "powerpc64",
        "powerpc64le", "s390x", "mips64", "wasm32", "loongarch64",
    ]
}

/// `system.connected`'s `sysinfo`: any field may be missing (every one is
/// on macOS).
package struct SystemInfo: Sendable, Equatable {
    package var cpu: String?
    /// Bytes.
    package var memory: Int64?
    /// Physical cores.
    package var coreCount: Int64?
    package var linuxKernel: String?
    package var linuxDistro: String?
    package var isVirtualMachine: Bool?

    package init(cpu: String? = nil, memory: Int64? = nil, coreCount: Int64? = nil, linuxKernel: String? = nil,
                 linuxDistro: String? = nil, isVirtualMachine: Bool? = nil) {
        self.cpu = cpu
        self.memory = memory
        self.coreCount = coreCount
        self.linuxKernel = linuxKernel
        self.linuxDistro = linuxDistro
        self.isVirtualMachine = isVirtualMachine
    }
}

/// `sysinfo.hwbench`: scores in MiB/s.
package struct HardwareScores: Sendable, Equatable {
    package var cpuHashrate: Int64?
    package var parallelCPUHashrate: Int64?
    package var memoryMemcpy: Int64?
    package var diskSequentialWrite: Int64?
    package var diskRandomWrite: Int64?

    package init(cpuHashrate: Int64? = nil, parallelCPUHashrate: Int64? = nil, memoryMemcpy: Int64? = nil,
                 diskSequentialWrite: Int64? = nil, diskRandomWrite: Int64? = nil) {
        self.cpuHashrate = cpuHashrate
        self.parallelCPUHashrate = parallelCPUHashrate
        self.memoryMemcpy = memoryMemcpy
        self.diskSequentialWrite = diskSequentialWrite
        self.diskRandomWrite = diskRandomWrite
    }

    package var isEmpty: Bool { self == HardwareScores() }
}
