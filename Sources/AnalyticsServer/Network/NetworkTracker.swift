import CSupport
import Logging
import NetworkModel
import PostgresClient
import Reactor

/// The state of the nodes connected to one event loop, kept as their
/// messages arrive and shared through PostgreSQL.
///
/// Per message it costs a dictionary lookup and NetworkModel's rules, for
/// the few kinds that carry state; nothing waits on the database. Once a
/// second (`flushIntervalMs`) the nodes whose best rose (or whose identity
/// or connection changed) are written in one statement, their imports of
/// recent blocks in another. A node whose finalized block or counters
/// changed is written with its next rise, or after `lazyDelayMs`: a node
/// then costs about one row write per block instead of three (import,
/// finality, interval). A node whose only news is that it spoke is written
/// every `lastSeenRefreshMs`. At each series step the loop's online nodes
/// get a history row and their session's last sighting. One flush runs at
/// a time, so two writes of one node never race; what a failed flush held
/// is written by the next.
final class NetworkTracker {
    struct Options {
        var rules: LivenessRules
        var seriesStepMs: Int64
        /// How long after a block's first sighting an import still counts.
        var propagationWindowMs: Int64
        var flushIntervalMs: UInt64 = 1000
        /// Below NODE_ID_IDLE_S, so readers never take a speaking node for
        /// a silent one.
        var lastSeenRefreshMs: Int64
        /// The longest a finalized block or counter change waits for a rise
        /// of the node's best to be written with.
        var lazyDelayMs: Int64 = 5000
    }

    final class Counters: CounterSet {
        var flushes = EventCounter(.init(.counter, "tetcore_network_flushes_total",
                                         help: "Network state flushes sent (at most one per event loop per second)."))
        var flushFailures = EventCounter(.init(.counter, "tetcore_network_flush_failures_total",
                                               help: "Network state statements that failed; their rows go with the next flush."))
        var nodeRowsWritten = EventCounter(.init(.counter, "tetcore_network_node_rows_written_total",
                                                 help: "Node state rows written (network_nodes)."))
        var blockImports = EventCounter(.init(.counter, "tetcore_network_block_imports_total",
                                              help: "Block imports counted for propagation."))
        var seriesRowsWritten = EventCounter(.init(.counter, "tetcore_network_series_rows_written_total",
                                                   help: "Per-node history rows written (network_node_series)."))
        var stepsSkipped = EventCounter(.init(.counter, "tetcore_network_steps_skipped_total",
                                              help: "History steps not written because the previous step was still waiting for the database."))
        var blocksDropped = EventCounter(.init(.counter, "tetcore_network_blocks_dropped_total",
                                               help: "Blocks whose propagation could not be written within two propagation windows "
                                                   + "(a database outage) and were dropped from memory."))
    }

    private struct Tracked {
        var state: NodeState
        /// Its best rose (or it closed) since the last write: written at
        /// the next flush.
        var dirty = true
        /// Since when a finalized block or counter change waits.
        var lazySinceMs: Int64?
        /// Identity or hardware changed (or never written): the node row's
        /// identity columns and the session row are written too.
        var identityDirty = true
        var writtenLastMessageAtMs: Int64 = 0
        /// The connection closed (or forgot the node id): written offline
        /// once, then forgotten.
        var closed = false
    }

    let counters = Counters()
    private let loop: EventLoop
    private let queue: StatementQueue
    private let writerID: String
    private let options: Options
    private let logger: Logger
    private var nodes: [Int32: Tracked] = [:]
    private(set) var arrivals: BlockArrivals
    private let flushTimer: LoopTimer
    private let stepTimer: LoopTimer
    private var statementsInFlight = 0
    /// The last history step's statements not yet answered: while the
    /// database is down they wait in the queue, and a step is skipped
    /// rather than queued behind them.
    private var stepStatementsInFlight = 0
    /// Delays of imports counted since the last flush, per chain, with the
    /// chain name one of its nodes gave.
    private var pendingDelays: [String: (name: String?, delaysMs: [Int64])] = [:]
    /// The best height of a chain as the whole network knows it (the view).
    var chainBest: (String) -> Int64? = { _ in nil }
    /// Handed the delays counted since the last flush, per chain.
    var onDelays: (([String: (name: String?, delaysMs: [Int64])]) -> Void)?

    /// `writerID` names this loop's block-import rows (instance and loop).
    init(loop: EventLoop, queue: StatementQueue, writerID: String, options: Options, logger: Logger) {
        self.loop = loop
        self.queue = queue
        self.writerID = writerID
        self.options = options
        self.logger = logger
        arrivals = BlockArrivals(windowMs: options.propagationWindowMs)
        flushTimer = LoopTimer(loop: loop)
        stepTimer = LoopTimer(loop: loop)
    }

    func start() {
        flushTimer.start(after: options.flushIntervalMs, repeat: options.flushIntervalMs) { [unowned self] in self.flush() }
        scheduleStep()
    }

    func stop() {
        flushTimer.stop()
        stepTimer.stop()
    }

    var trackedNodes: Int { nodes.count }

    // MARK: Messages

    /// A pre-parsed message of node `peerConnectionID`, received now.
    func receive(_ message: inout ts_json_message, peerConnectionID: Int32) {
        guard let report = NodeReport(reading: &message) else { return }
        observe(report, peerConnectionID: peerConnectionID, atMs: NetworkTime.nowMs())
    }

    /// A report of node `peerConnectionID` received at `atMs`. A node
    /// starts with system.connected (as on the reference server); reports
    /// before it are not kept.
    func observe(_ report: NodeReport, peerConnectionID: Int32, atMs: Int64) {
        guard let index = nodes.index(forKey: peerConnectionID) else {
            guard report.kind == .connected, let identity = report.identity else { return }
            var state = NodeState(identity: NodeIdentity(peerID: identity.peerID), connectedAtMs: atMs)
            state.apply(report, atMs: atMs)
            nodes[peerConnectionID] = Tracked(state: state)
            return
        }
        // Bit masks, not OptionSet algebra: NetworkModel's option set is
        // generic code from another module here, and its set operations
        // cost more than the rest of this function (measured with perf).
        let change = nodes.values[index].state.apply(report, atMs: atMs).rawValue
        if report.kind == .blockImport, change & Self.newBlock != 0,
           !(report.origin?.isCatchingUp ?? false), let block = report.best, let hash = block.hash,
           let genesis = nodes.values[index].state.genesisHash {
            let delay = arrivals.record(BlockKey(genesisHash: genesis, height: block.height, hash: hash),
                                        peerID: nodes.values[index].state.identity.peerID, atMs: atMs)
            if change & NodeState.Change.bestRaised.rawValue != 0 { nodes.values[index].state.propagationMs = delay }
            if let delay {
                counters.blockImports += 1
                pendingDelays[genesis, default: (nodes.values[index].state.identity.chain, [])].delaysMs.append(delay)
            }
        }
        if change & Self.urgent != 0 { nodes.values[index].dirty = true }
        if change & Self.lazy != 0, nodes.values[index].lazySinceMs == nil { nodes.values[index].lazySinceMs = atMs }
        if change & Self.identity != 0 { nodes.values[index].identityDirty = true }
    }

    /// A block the node had not reported: its best rose, or a fork.
    private static let newBlock = NodeState.Change.bestRaised.rawValue | NodeState.Change.bestForked.rawValue
    /// Written at the next flush.
    private static let urgent = NodeState.Change.bestRaised.rawValue | NodeState.Change.identity.rawValue
        | NodeState.Change.hardware.rawValue
    /// Written with the next urgent change, or after lazyDelayMs.
    private static let lazy = NodeState.Change.finalizedRaised.rawValue | NodeState.Change.counters.rawValue
    private static let identity = NodeState.Change.identity.rawValue | NodeState.Change.hardware.rawValue

    /// The nodes' connection closed, or it forgot their ids.
    func closed(_ peerConnectionIDs: [Int32]) {
        for id in peerConnectionIDs {
            guard let index = nodes.index(forKey: id) else { continue }
            nodes.values[index].state.online = false
            nodes.values[index].closed = true
            nodes.values[index].dirty = true
        }
    }

    /// Sightings of blocks elsewhere (other loops and instances). One
    /// earlier than this loop's own corrects the propagation of the nodes
    /// whose best it is: it was counted from a later sighting.
    func learn(firstSeenMs: Int64, of key: BlockKey) {
        let own = arrivals.firstSeenMs(of: key)
        arrivals.learn(firstSeenMs: firstSeenMs, of: key)
        guard let own, firstSeenMs < own else { return }
        for index in nodes.indices {
            let state = nodes.values[index].state
            guard state.propagationMs != nil, state.best?.height == key.height, state.best?.hash == key.hash,
                  state.genesisHash == key.genesisHash, let bestAt = state.bestAtMs else { continue }
            let corrected = max(0, bestAt - firstSeenMs)
            if corrected != state.propagationMs {
                nodes.values[index].state.propagationMs = corrected
                nodes.values[index].dirty = true
            }
        }
    }

    // MARK: Writes

    /// No statement of this tracker is waiting for the database: what it
    /// wrote last is stored (or failed). Shutdown waits for this after its
    /// last flush, so the closed sockets' nodes are written offline.
    var isIdle: Bool { statementsInFlight == 0 && stepStatementsInFlight == 0 }

    /// Writes what changed; nothing while the previous flush is in flight.
    func flush() {
        guard statementsInFlight == 0 else { return }
        let now = NetworkTime.nowMs()
        var nodeRows = JSONWriter(), sessionRows = JSONWriter()
        nodeRows.beginArray()
        sessionRows.beginArray()
        var written: [Int32] = [], sessions: [Int32] = []
        for (id, tracked) in nodes {
            let spoke = tracked.state.lastMessageAtMs - tracked.writtenLastMessageAtMs >= options.lastSeenRefreshMs
            let waited = tracked.lazySinceMs.map { now - $0 >= options.lazyDelayMs } ?? false
            guard tracked.dirty || spoke || waited || tracked.identityDirty else { continue }
            NetworkStore.encode(tracked.state, peerConnectionID: id, withIdentity: tracked.identityDirty, into: &nodeRows)
            written.append(id)
            if tracked.identityDirty {
                NetworkStore.encode(tracked.state, peerConnectionID: id, lastSeenAtMs: now, into: &sessionRows)
                sessions.append(id)
            }
        }
        nodeRows.endArray()
        sessionRows.endArray()
        for id in written {
            nodes[id]?.dirty = false
            nodes[id]?.lazySinceMs = nil
            nodes[id]?.identityDirty = false
            if let spoke = nodes[id]?.state.lastMessageAtMs { nodes[id]?.writtenLastMessageAtMs = spoke }
        }
        let blocks = arrivals.takeChanged()
        let dropped = arrivals.expire(nowMs: now)
        if dropped > 0 {
            counters.blocksDropped += dropped
            logger.warning("block propagation not written for two propagation windows; dropped from memory",
                           metadata: ["blocks": "\(dropped)"])
        }
        if !pendingDelays.isEmpty {
            onDelays?(pendingDelays)
            pendingDelays = [:]
        }
        guard !written.isEmpty || !blocks.isEmpty else { return }
        counters.flushes += 1
        if !written.isEmpty {
            // Written offline by this statement. A node that closes while it
            // is in flight was written online: it stays, dirty, for the next.
            let writtenClosed = written.filter { nodes[$0]?.closed == true }
            run(NetworkStore.upsertNodes, [.text(nodeRows.text)]) { [weak self] ok in
                guard let self else { return }
                if ok {
                    self.counters.nodeRowsWritten += written.count
                    // Closed nodes are gone once written offline.
                    for id in writtenClosed { self.nodes[id] = nil }
                } else {
                    for id in written { self.nodes[id]?.dirty = true }
                    for id in sessions { self.nodes[id]?.identityDirty = true }
                }
            }
        }
        if !sessions.isEmpty {
            run(NetworkStore.upsertSessions, [.text(sessionRows.text)]) { [weak self] ok in
                if !ok { for id in sessions { self?.nodes[id]?.identityDirty = true } }
            }
        }
        if !blocks.isEmpty {
            var rows = JSONWriter()
            rows.beginArray()
            for (key, record) in blocks { NetworkStore.encode(key, record, into: &rows) }
            rows.endArray()
            // Only the keys are kept: a kept record would be copied at its next import.
            let keys = blocks.map(\.key)
            run(NetworkStore.upsertArrivals, [.text(rows.text), .text(writerID)]) { [weak self] ok in
                if !ok { self?.arrivals.markChanged(keys) }
            }
        }
    }

    private func run(_ sql: String, _ parameters: [PGParameter], _ done: @escaping (Bool) -> Void) {
        statementsInFlight += 1
        queue.submit(StatementQueue.Job(sql: sql, parameters: parameters) { [weak self] result in
            guard let self else { return }
            self.statementsInFlight -= 1
            if case .failure(let error) = result {
                self.counters.flushFailures += 1
                self.logger.warning("writing network state failed; retrying with the next flush", metadata: ["error": "\(error)"])
                done(false)
            } else {
                done(true)
            }
        }, priority: .bulk)
    }

    /// Arms the step timer for just after the next step boundary (UTC,
    /// aligned on the epoch), so that every loop and instance writes the
    /// same `at` for a step.
    private func scheduleStep() {
        let now = NetworkTime.nowMs(), step = options.seriesStepMs
        let next = (now / step + 1) * step
        stepTimer.start(after: UInt64(next - now) + 50) { [weak self] in
            self?.writeStep(start: next - step)
            self?.scheduleStep()
        }
    }

    /// History rows of the step that began at `start` for every online
    /// node, and their sessions' last sighting.
    private func writeStep(start: Int64) {
        let now = NetworkTime.nowMs()
        var ownBest: [String: Int64] = [:]
        for tracked in nodes.values {
            guard let genesis = tracked.state.genesisHash, let height = tracked.state.best?.height else { continue }
            ownBest[genesis] = max(ownBest[genesis] ?? height, height)
        }
        // Once per chain, not per node.
        var bests: [String: Int64] = [:]
        for genesis in ownBest.keys { bests[genesis] = [chainBest(genesis), ownBest[genesis]].compactMap { $0 }.max() }
        var series = JSONWriter(), sessions = JSONWriter()
        series.beginArray()
        sessions.beginArray()
        var count = 0
        for (id, tracked) in nodes where !tracked.closed && tracked.state.isOnline(nowMs: now, idleMs: options.rules.idleMs) {
            let best = tracked.state.genesisHash.flatMap { bests[$0] }
            NetworkStore.encodeStep(tracked.state, chainBest: best, into: &series)
            NetworkStore.encode(tracked.state, peerConnectionID: id, lastSeenAtMs: now, into: &sessions)
            count += 1
        }
        series.endArray()
        sessions.endArray()
        guard count > 0, let at = NetworkTime.format(start) else { return }
        guard stepStatementsInFlight == 0 else {
            counters.stepsSkipped += 1
            logger.warning("history step skipped: the previous one is still waiting for the database")
            return
        }
        let logger = self.logger
        stepStatementsInFlight = 2
        queue.submit(StatementQueue.Job(sql: NetworkStore.insertSeries, parameters: [.text(series.text), .text(at)]) { [weak self] result in
            self?.stepStatementsInFlight -= 1
            switch result {
            case .success: self?.counters.seriesRowsWritten += count
            case .failure(let error):
                self?.counters.flushFailures += 1
                logger.warning("writing a history step failed; the step is lost", metadata: ["error": "\(error)"])
            }
        }, priority: .bulk)
        queue.submit(StatementQueue.Job(sql: NetworkStore.upsertSessions, parameters: [.text(sessions.text)]) { [weak self] result in
            self?.stepStatementsInFlight -= 1
            if case .failure = result { self?.counters.flushFailures += 1 }
        }, priority: .bulk)
    }
}
