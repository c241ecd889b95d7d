import CSupport
import NetworkModel

extension NodeReport {
    /// Longest hash or origin kept; longer ones are not a block's.
    static let maxHashBytes = 130
    /// Longest identity string kept (name, version, CPU…); longer ones are cut.
    static let maxTextBytes = 256

    /// What a pre-parsed message tells about its node's state, or nil when
    /// its kind carries none. Reads only what the pre-parse found, except
    /// for system.connected, whose identity is read from the tree
    /// ts_json_read_node_info builds (kept in the message until it is
    /// released, and built at most once).
    init?(reading message: inout ts_json_message) {
        let kind = message.state.kind
        if kind == TS_JSON_STATE_CONNECTED {
            self.init(kind: .connected, identity: NodeIdentity(reading: &message))
            return
        }
        // Read in place through a pointer: a copy of the state (and the
        // exclusivity checks of a captured copy) cost more than the reads.
        guard let report = withUnsafePointer(to: &message.state, { NodeReport(kind: kind, state: $0) }) else { return nil }
        self = report
    }

    private init?(kind: ts_json_state_kind, state: UnsafePointer<ts_json_state>) {
        let number = { (id: ts_json_state_number_id) in NodeReport.number(state, id) }
        let hash = { (id: ts_json_state_string_id) in NodeReport.hash(state, id) }
        switch kind {
        case TS_JSON_STATE_INTERVAL:
            self.init(kind: .interval, best: number(TS_JSON_N_HEIGHT).map { BlockRef(height: $0, hash: hash(TS_JSON_S_BEST)) },
                      finalized: number(TS_JSON_N_FINALIZED_HEIGHT).map { BlockRef(height: $0, hash: hash(TS_JSON_S_FINALIZED_HASH)) },
                      transactions: number(TS_JSON_N_TXCOUNT), peers: number(TS_JSON_N_PEERS),
                      bandwidthDownload: number(TS_JSON_N_BANDWIDTH_DOWNLOAD), bandwidthUpload: number(TS_JSON_N_BANDWIDTH_UPLOAD),
                      stateCacheSize: number(TS_JSON_N_USED_STATE_CACHE_SIZE))
        case TS_JSON_STATE_BLOCK_IMPORT:
            guard let height = number(TS_JSON_N_HEIGHT) else { return nil }
            self.init(kind: .blockImport, best: BlockRef(height: height, hash: hash(TS_JSON_S_BEST)),
                      origin: hash(TS_JSON_S_ORIGIN).flatMap(BlockOrigin.init(rawValue:)))
        case TS_JSON_STATE_FINALIZED:
            guard let height = number(TS_JSON_N_HEIGHT) else { return nil }
            self.init(kind: .finalized, finalized: BlockRef(height: height, hash: hash(TS_JSON_S_BEST)))
        case TS_JSON_STATE_FINALIZED_UP_TO:
            guard let height = number(TS_JSON_N_NUMBER) else { return nil }
            self.init(kind: .finalized, finalized: BlockRef(height: height, hash: hash(TS_JSON_S_HASH)))
        case TS_JSON_STATE_HWBENCH:
            self.init(kind: .hardwareBenchmark, hardware: HardwareScores(
                cpuHashrate: number(TS_JSON_N_CPU_HASHRATE_SCORE), parallelCPUHashrate: number(TS_JSON_N_PARALLEL_CPU_HASHRATE_SCORE),
                memoryMemcpy: number(TS_JSON_N_MEMORY_MEMCPY_SCORE), diskSequentialWrite: number(TS_JSON_N_DISK_SEQUENTIAL_WRITE_SCORE),
                diskRandomWrite: number(TS_JSON_N_DISK_RANDOM_WRITE_SCORE)))
        default:
            return nil
        }
    }

    /// A non-negative integer member, or nil.
    private static func number(_ state: UnsafePointer<ts_json_state>, _ id: ts_json_state_number_id) -> Int64? {
        var value: Int64 = 0
        guard ts_json_state_number(state, id, &value) == 1, value >= 0 else { return nil }
        return value
    }

    /// A hash or origin: a non-empty string up to maxHashBytes, or nil.
    private static func hash(_ state: UnsafePointer<ts_json_state>, _ id: ts_json_state_string_id) -> String? {
        let text = ts_json_state_string(state, id)
        guard text.len > 0, text.len <= maxHashBytes else { return nil }
        return text.string
    }
}

extension NodeIdentity {
    /// system.connected's identity; nil without a peer id (`network_id`).
    init?(reading message: inout ts_json_message) {
        guard ts_json_read_node_info(&message) == TS_JSON_OK.rawValue, message.node.from_connected != 0 else { return nil }
        let node = message.node
        func text(_ value: ts_json_str) -> String? {
            guard let string = value.string else { return nil }
            return string.utf8.count <= NodeReport.maxTextBytes ? string : String(string.prefix(NodeReport.maxTextBytes))
        }
        guard let peerID = text(node.peer_id), !peerID.isEmpty else { return nil }
        self.init(peerID: peerID, name: text(node.name), chain: text(node.chain), genesisHash: text(node.genesis_hash),
                  implementation: text(node.implementation), version: text(node.version), os: text(node.target_os),
                  arch: text(node.target_arch), env: text(node.target_env),
                  authority: node.authority < 0 ? nil : node.authority == 1,
                  startupTimeMs: node.has_startup_time != 0 ? node.startup_time : nil,
                  system: SystemInfo(cpu: text(node.cpu), memory: node.memory >= 0 ? node.memory : nil,
                                     coreCount: node.core_count >= 0 ? node.core_count : nil,
                                     linuxKernel: text(node.linux_kernel), linuxDistro: text(node.linux_distro),
                                     isVirtualMachine: node.is_virtual_machine < 0 ? nil : node.is_virtual_machine == 1))
    }
}
