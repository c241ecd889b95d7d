import Logging
import NetworkModel
import PostgresClient
import Reactor

/// The whole network as one event loop sees it: every node row and the
/// recent blocks of every chain, read back from PostgreSQL, whichever loop
/// or instance wrote them. The API's live routes, the subscriptions and
/// the chain gauges read it; it never touches the database per request.
///
/// Every `refreshIntervalMs` it reads the node rows written since its last
/// read (by transaction id, so none is missed whatever order they commit
/// in) and the blocks first seen since its last read, then tells
/// `onRefreshed` what changed. A loop's own nodes therefore show here one
/// flush and one refresh after their message: within about two seconds.
final class NetworkView {
    struct Options {
        var rules: LivenessRules
        var refreshIntervalMs: UInt64 = 1000
        /// Offline nodes are listed (and count in a chain's total) this long
        /// after they last spoke; the history keeps them longer.
        var offlineRetentionMs: Int64 = 24 * 3_600_000
        /// How far back blocks are loaded at start, for block times.
        var blockLookbackMs: Int64 = 2 * 3_600_000
    }

    /// What one refresh changed.
    struct Changes {
        var nodes: Set<String> = []
        var removed: Set<String> = []
        /// Blocks seen for the first time, oldest first.
        var blocks: [(key: BlockKey, firstSeenMs: Int64)] = []
    }

    final class Counters: CounterSet {
        var refreshes = EventCounter(.init(.counter, "tetcore_network_view_refreshes_total",
                                           help: "Reads of the shared network state by the event loops."))
        var refreshFailures = EventCounter(.init(.counter, "tetcore_network_view_refresh_failures_total",
                                                 help: "Reads of the shared network state that failed (retried at the next)."))
    }

    let options: Options
    let counters = Counters()
    private let loop: EventLoop
    private let queue: StatementQueue
    private let logger: Logger
    private let timer: LoopTimer
    private(set) var nodes: [String: NodeState] = [:]
    private(set) var peersByChain: [String: Set<String>] = [:]
    private(set) var blocks: [String: ChainBlocks] = [:]
    /// Blocks already reported, with their first sighting, for a while.
    private var knownBlocks: [BlockKey: Int64] = [:]
    private var xmin = "0"
    private var newestBlockMs: Int64?
    private var refreshing = false
    /// When apply next looks for nodes past `offlineRetentionMs`.
    private var nextRetentionPassMs: Int64 = 0
    static let retentionPassIntervalMs: Int64 = 60_000
    /// Bumped whenever nodes or blocks change: caches key on it.
    private(set) var generation = 0
    private(set) var isLoaded = false
    private var summaryCache: (generation: Int, second: Int64, summaries: [String: ChainSummary])?
    /// Each node's JSON members (NetworkJSON.nodeMembers), made when first
    /// asked for after a change.
    private var members: [String: [UInt8]] = [:]

    /// After each refresh, with what it changed.
    var onRefreshed: [(Changes) -> Void] = []

    init(loop: EventLoop, queue: StatementQueue, options: Options, logger: Logger) {
        self.loop = loop
        self.queue = queue
        self.options = options
        self.logger = logger
        timer = LoopTimer(loop: loop)
    }

    func start() {
        refresh()
        timer.start(after: options.refreshIntervalMs, repeat: options.refreshIntervalMs) { [unowned self] in self.refresh() }
    }

    func stop() {
        timer.stop()
    }

    // MARK: Reading

    /// The chains with a node, by genesis hash.
    func summaries(nowMs: Int64) -> [String: ChainSummary] {
        let second = nowMs / 1000
        if let cache = summaryCache, cache.generation == generation, cache.second == second { return cache.summaries }
        var summaries: [String: ChainSummary] = [:]
        for (genesis, peers) in peersByChain where !peers.isEmpty {
            // Looked up once: summarize reads the nodes twice.
            summaries[genesis] = ChainSummary.summarize(genesisHash: genesis, nodes: peers.compactMap { self.nodes[$0] },
                                                        blocks: blocks[genesis], nowMs: nowMs, rules: options.rules)
        }
        summaryCache = (generation, second, summaries)
        return summaries
    }

    func summary(of genesis: String, nowMs: Int64) -> ChainSummary? {
        summaries(nowMs: nowMs)[genesis]
    }

    func nodes(of genesis: String) -> [NodeState] {
        (peersByChain[genesis] ?? []).compactMap { nodes[$0] }
    }

    /// The node's JSON members, encoded once per change.
    func members(of node: NodeState) -> [UInt8] {
        let peer = node.identity.peerID
        if let cached = members[peer] { return cached }
        let made = NetworkJSON.nodeMembers(node)
        members[peer] = made
        return made
    }

    /// The chain's best height as the network knows it (from the summary
    /// cached for this second, so asking for every node costs nothing).
    func chainBest(_ genesis: String) -> Int64? {
        let fromNodes = summary(of: genesis, nowMs: NetworkTime.nowMs())?.best?.height
        let fromBlocks = blocks[genesis]?.newest?.height
        return [fromNodes, fromBlocks].compactMap { $0 }.max()
    }

    // MARK: Refresh

    func refresh() {
        guard !refreshing else { return }
        refreshing = true
        counters.refreshes += 1
        queue.submit(StatementQueue.Job(sql: NetworkStore.changedNodes, parameters: [.text(xmin)]) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let rows):
                var changes = Changes()
                self.apply(rows, into: &changes)
                self.refreshBlocks(changes)
            case .failure(let error):
                self.failed(error)
            }
        }, priority: .bulk)
    }

    private func failed(_ error: PGError) {
        refreshing = false
        counters.refreshFailures += 1
        logger.warning("reading the network state failed; retrying", metadata: ["error": "\(error)"])
    }

    private func apply(_ rows: PGRows, into changes: inout Changes) {
        changes.nodes.reserveCapacity(rows.count)
        for row in 0..<rows.count {
            if row == 0 {
                if let next = rows.string(0, 0) { xmin = next }
                continue
            }
            guard let node = NodeRowReader.node(rows, row) else { continue }
            let peer = node.identity.peerID
            let old = nodes[peer]
            if let old {
                guard old != node else { continue }
                if old.genesisHash != node.genesisHash, let genesis = old.genesisHash { peersByChain[genesis]?.remove(peer) }
            }
            nodes[peer] = node
            members[peer] = nil
            // Most changes keep the node's chain: its set already has it.
            if let genesis = node.genesisHash, old?.genesisHash != genesis { peersByChain[genesis, default: []].insert(peer) }
            changes.nodes.insert(peer)
        }
        // Offline nodes leave the view a while (a day) after they last
        // spoke; looked for once a minute, since the pass reads every node.
        let now = NetworkTime.nowMs()
        if now >= nextRetentionPassMs {
            nextRetentionPassMs = now + NetworkView.retentionPassIntervalMs
            for (peer, node) in nodes where now - node.lastMessageAtMs > options.offlineRetentionMs {
                nodes[peer] = nil
                members[peer] = nil
                if let genesis = node.genesisHash { peersByChain[genesis]?.remove(peer) }
                changes.removed.insert(peer)
                changes.nodes.remove(peer)
            }
        }
        for (genesis, peers) in peersByChain where peers.isEmpty { peersByChain[genesis] = nil }
    }

    private func refreshBlocks(_ changes: Changes) {
        let job: StatementQueue.Job
        let handler: (Result<PGRows, PGError>) -> Void = { [weak self] result in
            guard let self else { return }
            var changes = changes
            switch result {
            case .success(let rows):
                self.applyBlocks(rows, into: &changes)
                self.refreshing = false
                self.finish(changes)
            case .failure(let error):
                self.failed(error)
                self.finish(changes)
            }
        }
        if let newest = newestBlockMs {
            // Again from a minute before the newest seen: a loop's rows can
            // commit that much later than their first sighting.
            job = StatementQueue.Job(sql: NetworkStore.recentBlocks, parameters: [.int64(newest - 60_000)], completion: handler)
        } else {
            job = StatementQueue.Job(sql: NetworkStore.latestBlocks, parameters: [.int64(options.blockLookbackMs)], completion: handler)
        }
        queue.submit(job, priority: .bulk)
    }

    private func applyBlocks(_ rows: PGRows, into changes: inout Changes) {
        var seen: [(key: BlockKey, firstSeenMs: Int64)] = []
        for row in 0..<rows.count {
            guard let genesis = rows.string(row, 0), let height = rows.int64(row, 1), let hash = rows.string(row, 2),
                  let firstSeen = rows.int64(row, 3) else { continue }
            let key = BlockKey(genesisHash: genesis, height: height, hash: hash)
            if let known = knownBlocks[key], known <= firstSeen { continue }
            let isNew = knownBlocks[key] == nil
            knownBlocks[key] = firstSeen
            blocks[genesis, default: ChainBlocks()].add(height: height, firstSeenMs: firstSeen)
            newestBlockMs = max(newestBlockMs ?? firstSeen, firstSeen)
            seen.append((key, firstSeen))
            if isNew { changes.blocks.append((key, firstSeen)) }
        }
        if newestBlockMs == nil { newestBlockMs = NetworkTime.nowMs() - options.blockLookbackMs }
        changes.blocks.sort { ($0.firstSeenMs, $0.key.height) < ($1.firstSeenMs, $1.key.height) }
        if !seen.isEmpty { generation += 1 }
        // Kept long enough to recognise the rows read again.
        if let newest = newestBlockMs { knownBlocks = knownBlocks.filter { newest - $0.value < 15 * 60_000 } }
        for (key, firstSeen) in seen { onBlockSeen?(key, firstSeen) }
    }

    /// Each block sighting read (new, or earlier than known).
    var onBlockSeen: ((BlockKey, Int64) -> Void)?

    private func finish(_ changes: Changes) {
        if !changes.nodes.isEmpty || !changes.removed.isEmpty { generation += 1 }
        isLoaded = true
        // Also when nothing changed: time alone turns nodes offline or stale.
        for handler in onRefreshed { handler(changes) }
    }
}
