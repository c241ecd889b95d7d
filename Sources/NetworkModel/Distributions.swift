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

    /// An array, for the reason ChainSummary.summarize takes one.
    package static func compute(_ nodes: [NodeState]) -> [Distribution] {
        // One pass counting raw values; derived ones (vendor, kernel
        // release, buckets) are worked out once per distinct value, not per
        // node: a fleet has far fewer CPUs and kernels than nodes.
        var version: [String?: Int] = [:], implementation: [String?: Int] = [:], os: [String?: Int] = [:]
        var arch: [String?: Int] = [:], cpu: [String?: Int] = [:], cores: [Int64?: Int] = [:]
        var memory: [Int64?: Int] = [:], vm: [Bool?: Int] = [:], kernel: [String?: Int] = [:], distro: [String?: Int] = [:]
        var scores = [[Int64?: Int]](repeating: [:], count: 5)
        for node in nodes {
            let identity = node.identity, system = identity.system, hardware = node.hardware
            version[identity.version, default: 0] += 1
            implementation[identity.implementation, default: 0] += 1
            os[identity.os, default: 0] += 1
            arch[identity.arch, default: 0] += 1
            cpu[system.cpu, default: 0] += 1
            cores[system.coreCount, default: 0] += 1
            memory[system.memory, default: 0] += 1
            vm[system.isVirtualMachine, default: 0] += 1
            kernel[system.linuxKernel, default: 0] += 1
            distro[system.linuxDistro, default: 0] += 1
            scores[0][hardware.cpuHashrate, default: 0] += 1
            scores[1][hardware.parallelCPUHashrate, default: 0] += 1
            scores[2][hardware.memoryMemcpy, default: 0] += 1
            scores[3][hardware.diskSequentialWrite, default: 0] += 1
            scores[4][hardware.diskRandomWrite, default: 0] += 1
        }
        func regroup<Key: Hashable>(_ counts: [Key?: Int], _ label: (Key) -> String?) -> [String?: Int] {
            var grouped: [String?: Int] = [:]
            for (key, count) in counts { grouped[key.flatMap(label), default: 0] += count }
            return grouped
        }
        func ranked(_ name: String, _ counts: [String?: Int]) -> Distribution {
            Distribution(name: name, entries: topEntries(counts))
        }
        func bucketed(_ name: String, order: [String], _ counts: [String?: Int]) -> Distribution {
            var byLabel: [String: Int] = [:]
            for (label, count) in counts { byLabel[label ?? unknown, default: 0] += count }
            let entries = (order + [unknown]).compactMap { label in byLabel[label].map { Distribution.Entry(label, $0) } }
            return Distribution(name: name, entries: entries)
        }
        let scoreOrder = HardwareScore.bucketLabels
        let references = [HardwareScore.cpuReference, HardwareScore.cpuReference, HardwareScore.memoryReference,
                          HardwareScore.diskSequentialReference, HardwareScore.diskRandomReference]
        let scoreNames = ["cpu_hashrate_score", "parallel_cpu_hashrate_score", "memory_memcpy_score",
                          "disk_sequential_write_score", "disk_random_write_score"]
        return [
            ranked("version", version),
            ranked("implementation", implementation),
            ranked("os", os),
            ranked("arch", arch),
            ranked("cpu", cpu),
            ranked("cpu_vendor", regroup(cpu) { CPUVendor.of($0) }),
            ranked("core_count", regroup(cores) { String($0) }),
            bucketed("memory", order: MemoryBucket.labels, regroup(memory) { MemoryBucket.label($0) }),
            bucketed("is_virtual_machine", order: ["true", "false"], regroup(vm) { $0 ? "true" : "false" }),
            ranked("linux_kernel", regroup(kernel) { kernelRelease($0) }),
            ranked("linux_distro", distro),
        ] + (0..<5).map { index in
            bucketed(scoreNames[index], order: scoreOrder, regroup(scores[index]) { HardwareScore.label($0, reference: references[index]) })
        }
    }

    /// The `top` most common values, then "other" (the rest) and "unknown"
    /// (absent or empty), each only when non-zero.
    static func topEntries(_ values: [String?: Int]) -> [Distribution.Entry] {
        var counts: [String: Int] = [:]
        var unknownCount = 0
        for (value, count) in values {
            if let value, !value.isEmpty { counts[value, default: 0] += count } else { unknownCount += count }
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
