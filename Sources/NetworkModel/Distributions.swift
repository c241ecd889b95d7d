/// The fleet's composition: how many nodes report each value.
package struct Distribution: Sendable, Equatable {
    package struct Entry: Sendable, Equatable {
        package var label: String
        package var count: Int

        package init(_ label: String, _ count: Int) {
            self.label = label
            self.count = count
        }
    }

    package var name: String
    package var entries: [Entry]

    package init(name: String, entries: [Entry]) {
        self.name = name
        self.entries = entries
    }
}

/// Builds the distributions the reference live server shows for a chain,
/// with its buckets: for version, implementation, OS, architecture, CPU,
/// CPU vendor, cores, Linux distribution and kernel the ten most common
/// values (most common first, ties in byte order), then "other" and
/// "unknown"; for memory, virtual machine and the hardware scores every
/// bucket in its own order, empty ones left out.
package enum Distributions {
    package static let unknown = "unknown"
    package static let other = "other"
    static let top = 10

    package static func compute<Nodes: Collection>(_ nodes: Nodes) -> [Distribution] where Nodes.Element == NodeState {
        func ranked(_ name: String, _ value: (NodeState) -> String?) -> Distribution {
            Distribution(name: name, entries: topEntries(nodes.map(value)))
        }
        func bucketed(_ name: String, order: [String], _ value: (NodeState) -> String?) -> Distribution {
            var counts: [String: Int] = [:]
            for node in nodes { counts[value(node) ?? unknown, default: 0] += 1 }
            let entries = (order + [unknown]).compactMap { label in counts[label].map { Distribution.Entry(label, $0) } }
            return Distribution(name: name, entries: entries)
        }
        let scoreOrder = HardwareScore.bucketLabels
        return [
            ranked("version") { $0.identity.version },
            ranked("implementation") { $0.identity.implementation },
            ranked("os") { $0.identity.os },
            ranked("arch") { $0.identity.arch },
            ranked("cpu") { $0.identity.system.cpu },
            ranked("cpu_vendor") { $0.identity.system.cpu.map(CPUVendor.of) },
            ranked("core_count") { $0.identity.system.coreCount.map(String.init) },
            bucketed("memory", order: MemoryBucket.labels) { $0.identity.system.memory.map(MemoryBucket.label) },
            bucketed("is_virtual_machine", order: ["true", "false"]) { $0.identity.system.isVirtualMachine.map { $0 ? "true" : "false" } },
            ranked("linux_kernel") { $0.identity.system.linuxKernel.map(kernelRelease) },
            ranked("linux_distro") { $0.identity.system.linuxDistro },
            bucketed("cpu_hashrate_score", order: scoreOrder) {
                $0.hardware.cpuHashrate.map { HardwareScore.label($0, reference: HardwareScore.cpuReference) } },
            bucketed("parallel_cpu_hashrate_score", order: scoreOrder) {
                $0.hardware.parallelCPUHashrate.map { HardwareScore.label($0, reference: HardwareScore.cpuReference) } },
            bucketed("memory_memcpy_score", order: scoreOrder) {
                $0.hardware.memoryMemcpy.map { HardwareScore.label($0, reference: HardwareScore.memoryReference) } },
            bucketed("disk_sequential_write_score", order: scoreOrder) {
                $0.hardware.diskSequentialWrite.map { HardwareScore.label($0, reference: HardwareScore.diskSequentialReference) } },
            bucketed("disk_random_write_score", order: scoreOrder) {
                $0.hardware.diskRandomWrite.map { HardwareScore.label($0, reference: HardwareScore.diskRandomReference) } },
        ]
    }

    /// The `top` most common values, then "other" (the rest) and "unknown"
    /// (absent or empty), each only when non-zero.
    static func topEntries(_ values: [String?]) -> [Distribution.Entry] {
        var counts: [String: Int] = [:]
        var unknownCount = 0
        for value in values {
            if let value, !value.isEmpty { counts[value, default: 0] += 1 } else { unknownCount += 1 }
        }
        let sorted = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        var entries = sorted.prefix(top).map { Distribution.Entry($0.key, $0.value) }
        let rest = sorted.dropFirst(top).reduce(0) { $0 + $1.value }
        if rest > 0 { entries.append(.init(other, rest)) }
        if unknownCount > 0 { entries.append(.init(unknown, unknownCount)) }
        return entries
    }

    /// A kernel release cut at its first `-` or `+` (`6.1.0-27-amd64` → `6.1.0`).
    package static func kernelRelease(_ release: String) -> String {
        String(release.prefix { $0 != "-" && $0 != "+" })
    }
}

/// CPU vendor from the CPU's name.
package enum CPUVendor {
    package static func of(_ cpu: String) -> String {
        let name = cpu.lowercased()
        if name.contains("intel") { return "Intel" }
        if name.contains("amd") { return "AMD" }
        if name.contains("apple") { return "Apple" }
        for arm in ["arm", "neoverse", "cortex", "graviton", "ampere", "aarch64"] where name.contains(arm) { return "ARM" }
        return "Other"
    }
}

/// Memory in buckets of GB, a GB being bytes / 1024² / 1000 as the
/// reference server counts it; edges 1, 2, 4, 6, 8, 10, 16, 24, 32, 48, 56,
/// 64, 128.
package enum MemoryBucket {
    package static let edges: [Int64] = [1, 2, 4, 6, 8, 10, 16, 24, 32, 48, 56, 64, 128]

    /// "< 1 GB", "1-2 GB", …, "64-128 GB", "128+ GB".
    package static let labels: [String] = {
        var labels = ["< \(edges[0]) GB"]
        for (low, high) in zip(edges, edges.dropFirst()) { labels.append("\(low)-\(high) GB") }
        labels.append("\(edges[edges.count - 1])+ GB")
        return labels
    }()

    package static func label(_ bytes: Int64) -> String {
        let gb = Double(bytes) / 1024 / 1024 / 1000
        let index = edges.firstIndex { gb < Double($0) } ?? edges.count
        return labels[index]
    }
}

/// Hardware benchmark scores as a percentage of the reference machine's
/// (the figures the reference server uses, MiB/s), in its buckets.
package enum HardwareScore {
    package static let cpuReference: Int64 = 1028
    package static let memoryReference: Int64 = 14899
    package static let diskSequentialReference: Int64 = 485
    package static let diskRandomReference: Int64 = 222
    package static let edges: [Int64] = [0, 10, 30, 50, 70, 90, 110, 130, 150, 200, 300, 400, 500]

    /// "0-10%", …, "90-110% (baseline)", …, "400-500%", "500%+".
    package static let bucketLabels: [String] = {
        var labels: [String] = []
        for (low, high) in zip(edges, edges.dropFirst()) {
            labels.append(low == 90 ? "\(low)-\(high)% (baseline)" : "\(low)-\(high)%")
        }
        labels.append("\(edges[edges.count - 1])%+")
        return labels
    }()

    /// The bucket of `score` against `reference` (a negative score counts as 0).
    package static func label(_ score: Int64, reference: Int64) -> String {
        let percent = Double(max(0, score)) * 100 / Double(reference)
        let index = edges.dropFirst().firstIndex { percent < Double($0) } ?? edges.count
        return bucketLabels[index - 1]
    }
}
