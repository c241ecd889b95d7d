import Glibc
import Logging
import Reactor

/// One load run: the fleet of synthetic nodes on one event loop, their
/// ramp-up, schedule, ending, and the verification afterwards.
package final class LoadRun {
    /// Bytes a `--rate max` node writes at once: 32 KiB, less when there
    /// are many nodes, so that all the batches in flight together stay near
    /// 64 MiB (the kernel's socket buffers hold the rest).
    let batchBytes: Int
    /// Timers of the schedule and of `--rate` fire this often.
    static let tickMs: UInt64 = 10
    /// While nodes close, how often the run looks whether the server reads.
    static let closeCheckMs: UInt64 = 250
    /// Closing has taken this long: say on stderr what the run waits for.
    static let closeNoticeMs: UInt64 = 2_000
    /// Longest a shut socket waits for the server's EOF before closing.
    static let lingerMs: UInt64 = 2_000

    package let options: LoadOptions
    package let stats: RunStatistics
    let loop: EventLoop
    let frames: FrameSet
    let handshake: ClientHandshake
    /// Where frames are assembled before each write (what the kernel does
    /// not take at once is copied into the node's queue).
    let scratch: UnsafeMutableBufferPointer<UInt8>
    /// Where every node reads into (reads are handled at once).
    let readBuffer: UnsafeMutableRawBufferPointer
    private(set) var nodes: [SyntheticNode] = []
    let chains: [SyntheticChain]
    let schedule: RealisticSchedule
    /// The server's IPv4 address (resolved once).
    private(set) var address = ""
    private(set) var isStopping = false
    private var started = 0
    private var finished = 0
    /// Closing: nodes finished at the last look, and when the server last
    /// read anything from a closing node (or one finished).
    private var finishedAtLastCheck = 0
    private var lastDrainMs: UInt64 = 0
    private var closingSinceMs: UInt64?
    private var closeNoticeShown = false
    /// Sockets shut by their nodes, waiting for the server's EOF.
    private var lingering: [ObjectIdentifier: NodeSocket] = [:]
    private var waitingForLingering = false
    private var aborting = false
    private var timers = TimerHeap()
    private var lastTickMs: UInt64 = 0
    private let tickTimer: LoopTimer
    private let rampTimer: LoopTimer
    private let endTimer: LoopTimer
    private let progressTimer: LoopTimer
    private let closeTimer: LoopTimer
    private var signals: [SignalWatcher] = []
    private var verifier: Verifier?
    private var progress: ProgressLine?
    private var report: RunReport?
    private let logger: Logger

    package init(options: LoadOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        loop = EventLoop()
        stats = RunStatistics(nodesTarget: options.nodes)
        let mask = MaskKey(seed: options.seed)
        frames = FrameSet(catalogue: options.catalogue, wire: options.wire, mask: mask, mixKinds: options.mixKinds)
        handshake = ClientHandshake(target: options.target, seed: options.seed)
        scratch = .allocate(capacity: 1 << 20)
        readBuffer = .allocate(byteCount: 64 << 10, alignment: 16)
        batchBytes = max(2_048, min(32_768, (64 << 20) / max(options.nodes, 1)))
        tickTimer = LoopTimer(loop: loop)
        rampTimer = LoopTimer(loop: loop)
        endTimer = LoopTimer(loop: loop)
        progressTimer = LoopTimer(loop: loop)
        closeTimer = LoopTimer(loop: loop)
        let scenario = options.scenario
        schedule = RealisticSchedule(blockTimeMs: scenario.blockTimeMs, verbosity: options.verbosity)
        chains = (0..<scenario.chains).map {
            SyntheticChain(seed: options.seed, index: $0, chains: scenario.chains, fleet: options.nodes)
        }
        nodes = (0..<options.nodes).map { index in
            let chain = chains[SyntheticChain.chain(of: index, chains: scenario.chains)]
            let position = SyntheticChain.position(of: index, chains: scenario.chains)
            return SyntheticNode(identity: NodeIdentity(seed: options.seed, index: index, namePrefix: options.namePrefix),
                                 chain: chain, role: scenario.role(of: index, nodes: options.nodes),
                                 chainDelayMs: chain.delayMs(position: position, propagationMs: scenario.propagationMs), run: self)
        }
    }

    deinit {
        scratch.deallocate()
        readBuffer.deallocate()
    }

    /// Runs to the end (duration, every message sent, or SIGINT/SIGTERM),
    /// verifies if asked, and returns what happened.
    package func run() -> RunReport {
        // A write to a socket the server has reset must fail with EPIPE
        // (counted), not end the process.
        signal(SIGPIPE, SIG_IGN)
        for signal in [SIGINT, SIGTERM] {
            if let watcher = try? SignalWatcher(loop: loop, signal: signal, { [unowned self] _ in interrupted() }) {
                signals.append(watcher)
            }
        }
        resolve { [self] error in
            if let error {
                finish(failure: error)
            } else if let url = options.verifyDatabaseURL {
                let verifier = Verifier(loop: loop, conninfo: url, networkIDs: nodes.map(\.identity.networkID), logger: logger)
                self.verifier = verifier
                verifier.prepare { [self] error in
                    if let error { finish(failure: "verify: \(error)") } else { start() }
                }
            } else {
                start()
            }
        }
        loop.run()
        return report ?? RunReport(options: options, stats: stats, verification: nil, failure: "the loop ended early")
    }

    private func resolve(_ completion: @escaping (String?) -> Void) {
        let host = options.target.host
        if HostResolver.isAddress(host) {
            address = host
            completion(host.contains(":") ? "IPv6 server addresses are not supported; use an IPv4 address" : nil)
            return
        }
        HostResolver.resolve(loop: loop, host: host) { [self] result in
            switch result {
            case let .success(addresses):
                guard let v4 = addresses.first(where: { !$0.contains(":") }) else {
                    completion("\(host) has no IPv4 address")
                    return
                }
                address = v4
                completion(nil)
            case let .failure(error):
                completion("cannot resolve \(host): \(error)")
            }
        }
    }

    private var nowMs: UInt64 { loop.nowMilliseconds &- stats.startedMs }

    /// When the run started, in Unix milliseconds (the nodes' startup
    /// times are counted back from it).
    private(set) var wallStartMs: UInt64 = 0

    /// Milliseconds since the run started (the loop's time).
    var elapsedMs: UInt64 { nowMs }

    var bestBlock: UInt64 { ChainHeight.best(elapsedMs: nowMs, blockTimeMs: schedule.blockTimeMs) }

    private func start() {
        stats.startedMs = loop.nowMilliseconds
        wallStartMs = UInt64(WallClock.nowNanoseconds / 1_000_000)
        lastTickMs = 0
        rampTimer.start(after: 0, repeat: LoadRun.tickMs) { [unowned self] in rampUp() }
        if options.shape != .max {
            tickTimer.start(after: LoadRun.tickMs, repeat: LoadRun.tickMs) { [unowned self] in tick() }
        }
        if let seconds = options.durationSeconds {
            endTimer.start(after: UInt64(seconds * 1000)) { [unowned self] in stopSending() }
        }
        if options.progress {
            let line = ProgressLine(stats: stats, durationSeconds: options.durationSeconds)
            progress = line
            progressTimer.start(after: 1000, repeat: 1000) { [unowned self] in line.update(elapsedMs: nowMs) }
        }
    }

    /// Starts the nodes whose turn has come: evenly over the ramp-up.
    private func rampUp() {
        let due: Int
        if options.rampUpSeconds <= 0 {
            due = nodes.count
        } else {
            let fraction = Double(nowMs) / (options.rampUpSeconds * 1000)
            due = min(nodes.count, Int(fraction * Double(nodes.count)) + 1)
        }
        while started < due, !isStopping {
            nodes[started].connect()
            started += 1
        }
        if started == nodes.count { rampTimer.stop() }
    }

    /// Called by a node once its WebSocket is open and `system.connected`
    /// is on its way.
    func nodeOpened(_ node: SyntheticNode) {
        switch options.shape {
        case .max:
            node.sendMaxBatch()
        case .realistic where node.clock == nil:
            let clock = RealisticSchedule.NodeClock(schedule: schedule, identity: node.identity, seed: options.seed,
                                                    joinedMs: nowMs, chainDelayMs: node.chainDelayMs)
            node.clock = clock
            node.follower = ChainFollower(chain: node.chain, role: node.role,
                                          firstBlock: clock.firstRound(of: "block.import", in: schedule) ?? 0)
            timers.push(due: clock.nextDue, node: node.identity.index)
        case .realistic, .rate:
            break
        }
    }

    private func tick() {
        let now = nowMs
        switch options.shape {
        case .realistic:
            while let next = timers.first, next.due <= now {
                _ = timers.pop()
                let node = nodes[next.node]
                guard var clock = node.clock else { continue }
                // Read afresh: `now` is the loop's time as the tick began.
                let sentAtMs = EventLoop.monotonicNanoseconds / 1_000_000 &- stats.startedMs
                for slot in clock.due.indices where clock.due[slot] <= now {
                    let event = schedule.events[clock.events[slot]]
                    if sentAtMs > clock.due[slot] { stats.lateMaxMs = max(stats.lateMaxMs, sentAtMs - clock.due[slot]) }
                    // The round of the last period due: a late tick imports
                    // the newest block.
                    var round = clock.round[slot]
                    while clock.due[slot] <= now {
                        round = clock.round[slot]
                        clock.advance(slot, in: schedule)
                    }
                    // A late tick sends an event once, not once per period missed.
                    if node.canSend(event.kinds.count) { node.sendScheduled(event, round: round) }
                }
                node.clock = clock
                if !node.isExhausted { timers.push(due: clock.nextDue, node: next.node) }
            }
        case let .rate(perSecond):
            let elapsed = Double(now &- lastTickMs) / 1000
            for node in nodes where node.isOpen && !node.isExhausted {
                node.rateCredit += perSecond * elapsed
                let count = Int(node.rateCredit)
                guard count > 0 else { continue }
                node.rateCredit -= Double(count)
                if node.canSend(count) { node.sendMix(count) }
            }
            let doneMs = EventLoop.monotonicNanoseconds / 1_000_000 &- stats.startedMs
            if doneMs > now { stats.lateMaxMs = max(stats.lateMaxMs, doneMs - now) }
        case .max:
            break
        }
        lastTickMs = now
    }

    func peers(of index: Int) -> [String] {
        let count = min(FrameSet.peersPerNode, nodes.count - 1)
        return (0..<count).map { nodes[(index + 1 + $0) % nodes.count].identity.networkID }
    }

    private func interrupted() {
        if !isStopping {
            stopSending()
        } else if nodes.contains(where: \.isClosing) {
            // A second Ctrl-C: the user does not want to wait for closes.
            stats.abortInterrupted = true
            abortClosing()
        } else {
            exit(130)
        }
    }

    /// Sends nothing more; every node sends its close frame behind its
    /// last message.
    private func stopSending() {
        guard !isStopping else { return }
        isStopping = true
        stats.sendingStoppedMs = loop.nowMilliseconds
        rampTimer.stop()
        tickTimer.stop()
        endTimer.stop()
        for node in nodes { node.stop() }
    }

    /// A node sent its close frame: from now on the run watches that the
    /// server keeps reading what the closing nodes sent.
    func nodeClosing(_ node: SyntheticNode) {
        // With --messages-per-node, sending ends as the last node closes.
        if !isStopping { stats.sendingStoppedMs = loop.nowMilliseconds }
        if closingSinceMs == nil { closingSinceMs = loop.nowMilliseconds }
        guard !closeTimer.isActive else { return }
        lastDrainMs = loop.nowMilliseconds
        finishedAtLastCheck = finished
        closeTimer.start(after: LoadRun.closeCheckMs, repeat: LoadRun.closeCheckMs) { [unowned self] in watchClosing() }
    }

    /// Waits as long as the server reads: any closing node's bytes taken
    /// by the server, or any node finished, since the last look. Gives up
    /// on the closing nodes once `--close-timeout` passes without that.
    private func watchClosing() {
        let now = loop.nowMilliseconds
        var drained = finished != finishedAtLastCheck
        finishedAtLastCheck = finished
        var closing = 0
        for node in nodes where node.isClosing {
            closing += 1
            if node.drainAdvanced() { drained = true }
        }
        guard closing > 0 else {
            // Nothing waits: the next node to close gets the whole timeout.
            closingSinceMs = nil
            lastDrainMs = now
            return
        }
        if drained { lastDrainMs = now }
        if !closeNoticeShown, let since = closingSinceMs, now &- since >= LoadRun.closeNoticeMs {
            closeNoticeShown = true
            Notice.write("\(closing) nodes are waiting for the server to read what they sent before they close "
                + "(each is given up on after \(Format.seconds(options.closeTimeoutSeconds)) in which the server reads nothing; --close-timeout)")
        }
        if now &- lastDrainMs >= closeTimeoutMs { abortClosing() }
    }

    private var closeTimeoutMs: UInt64 { UInt64(options.closeTimeoutSeconds * 1000) }

    /// Gives up on every closing node, counting what may not have arrived.
    private func abortClosing() {
        lastDrainMs = loop.nowMilliseconds
        // The run ends once every node is counted, not at the first that
        // completes the fleet.
        aborting = true
        let reason = stats.abortInterrupted ? "close: given up (Ctrl-C)" : "close: timed out"
        for node in nodes where node.isClosing {
            let lost = node.abort(reason: reason)
            stats.nodeAborted(notSent: lost.notSent, unacknowledged: lost.unacknowledged)
        }
        aborting = false
        if finished == nodes.count { allFinished() }
    }

    /// Shuts `socket`'s write side (after what it has queued) and reads
    /// until the server's EOF, at most `lingerMs`, then closes it: closing
    /// while the server still sends (pings) would make it a reset.
    func linger(_ socket: NodeSocket) {
        guard !socket.isClosed else { return }
        guard socket.isReading else { return socket.close() }
        let key = ObjectIdentifier(socket)
        lingering[key] = socket
        socket.onData = { _ in }
        socket.onWritable = nil
        socket.onEnd = { [unowned self] _ in endLingering(key) }
        socket.shutdownWrites()
        LoopTimer.once(on: loop, after: LoadRun.lingerMs) { [weak self] in self?.endLingering(key) }
    }

    private func endLingering(_ key: ObjectIdentifier) {
        guard let socket = lingering.removeValue(forKey: key) else { return }
        socket.close()
        if lingering.isEmpty && waitingForLingering {
            waitingForLingering = false
            allClosed()
        }
    }

    func nodeFinished(_ node: SyntheticNode) {
        finished += 1
        if finished == nodes.count && !aborting { allFinished() }
    }

    private func allFinished() {
        stats.stoppedMs = loop.nowMilliseconds
        if stats.sendingStoppedMs == 0 { stats.sendingStoppedMs = stats.stoppedMs }
        isStopping = true
        for timer in [rampTimer, tickTimer, endTimer, closeTimer, progressTimer] { timer.stop() }
        progress?.finish(elapsedMs: nowMs)
        // The last sockets get the server's EOF (bounded by lingerMs).
        if lingering.isEmpty { allClosed() } else { waitingForLingering = true }
    }

    private func allClosed() {
        guard let verifier else {
            finish(failure: nil)
            return
        }
        let expected = nodes.map { VerifiedNode(networkID: $0.identity.networkID, confirmed: $0.confirmed, unconfirmed: $0.unconfirmed) }
        verifier.verify(nodes: expected, timeoutMs: UInt64(options.verifyTimeoutSeconds * 1000)) { [self] verification in
            report = RunReport(options: options, stats: stats, verification: verification, failure: nil)
            close()
        }
    }

    private func finish(failure: String?) {
        if stats.stoppedMs == 0 { stats.stoppedMs = loop.nowMilliseconds }
        report = RunReport(options: options, stats: stats, verification: nil, failure: failure)
        close()
    }

    private func close() {
        for node in nodes { node.abort() }
        for socket in lingering.values { socket.close() }
        lingering.removeAll()
        verifier?.close()
        signals.removeAll()
        for timer in [rampTimer, tickTimer, endTimer, closeTimer, progressTimer] { timer.stop() }
        loop.stop()
    }
}
