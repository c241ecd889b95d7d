/// The members of the messages that carry node and chain state, as a
/// current node sends them (docs/loadgen.md; the forms of the spec's
/// current_node_messages.json): each a list of (name, compact JSON) in the
/// order nodes write them, for `MessageText`.
package enum CurrentNodeMessages {
    package typealias Members = [(name: String, json: String)]

    /// A block as a node names it.
    package struct Block: Equatable {
        package var height: UInt64
        package var hash: String

        package init(height: UInt64, hash: String) {
            self.height = height
            self.hash = hash
        }
    }

    /// The first message of every connection. `startup_time` is a string
    /// of Unix milliseconds, counted back from the run's start
    /// (`runStartMs`, Unix milliseconds); `config` is always empty.
    package static func connected(_ identity: NodeIdentity, machine: NodeMachine, chain: SyntheticChain,
                                  runStartMs: UInt64) -> Members {
        let hardware = machine.hardware
        let sysinfo = "{\"cpu\":\(quoted(hardware.cpu)),\"memory\":\(hardware.memoryBytes),\"core_count\":\(hardware.coreCount),"
            + "\"linux_kernel\":\(quoted(hardware.linuxKernel)),\"linux_distro\":\(quoted(hardware.linuxDistro)),"
            + "\"is_virtual_machine\":\(hardware.isVirtualMachine)}"
        return [
            ("name", quoted(identity.name)),
            ("implementation", quoted(machine.implementation)),
            ("version", quoted(machine.version)),
            ("config", "\"\""),
            ("chain", quoted(chain.name)),
            ("genesis_hash", quoted(chain.genesisHash)),
            ("authority", identity.authority ? "true" : "false"),
            ("startup_time", quoted(String(identity.startupTime(runStartMs: runStartMs)))),
            ("network_id", quoted(identity.networkID)),
            ("target_os", quoted(machine.os)),
            ("target_arch", quoted(hardware.arch)),
            ("target_env", quoted(machine.env)),
            ("sysinfo", sysinfo),
        ]
    }

    /// Sent after `system.connected` on every connection.
    package static func hardwareBench(_ machine: NodeMachine) -> Members {
        [
            ("cpu_hashrate_score", String(machine.cpuScore)),
            ("parallel_cpu_hashrate_score", String(machine.parallelCPUScore)),
            ("memory_memcpy_score", String(machine.memoryScore)),
            ("disk_sequential_write_score", String(machine.diskSequentialScore)),
            ("disk_random_write_score", String(machine.diskRandomScore)),
        ]
    }

    /// The interval message with the node's chain (form A).
    package static func intervalChain(best: Block, finalized: Block, txcount: Int, stateCacheBytes: UInt64) -> Members {
        [
            ("height", String(best.height)),
            ("best", quoted(best.hash)),
            ("txcount", String(txcount)),
            ("finalized_height", String(finalized.height)),
            ("finalized_hash", quoted(finalized.hash)),
            ("used_state_cache_size", String(stateCacheBytes)),
        ]
    }

    /// The interval message with the node's network (form B), a separate
    /// message of the same tick.
    package static func intervalNetwork(peers: Int, downloadBytesPerSecond: UInt64, uploadBytesPerSecond: UInt64) -> Members {
        [
            ("peers", String(peers)),
            ("bandwidth_download", String(downloadBytesPerSecond)),
            ("bandwidth_upload", String(uploadBytesPerSecond)),
        ]
    }

    /// A new best block: `height` is a number.
    package static func blockImport(_ block: Block, origin: String) -> Members {
        [("height", String(block.height)), ("best", quoted(block.hash)), ("origin", quoted(origin))]
    }

    /// A finality notification: `height` is a string.
    package static func finalized(_ block: Block) -> Members {
        [("height", quoted(String(block.height))), ("best", quoted(block.hash))]
    }

    /// GRANDPA's finality message (consensus verbosity): `number` is a string.
    package static func finalizedUpTo(_ block: Block) -> Members {
        [("hash", quoted(block.hash)), ("number", quoted(String(block.height)))]
    }

    private static func quoted(_ text: String) -> String { MessageText.quoted(text) }
}
