import CSupport
import Reactor

/// One synthetic node: its own TCP connection and WebSocket, its message
/// numbering, and reconnection with backoff when the connection drops.
///
/// Closing: the close frame follows the node's last message in the same
/// byte stream, then the node reads (answering nothing more) until the
/// server's close frame, which the server sends once it has read
/// everything before it; then the write side is shut and the socket closed
/// at the server's EOF. A node given up on (`abort`, the run's close
/// timeout) counts the messages that may not have arrived.
final class SyntheticNode {
    enum State { case idle, connecting, handshaking, open, closing, waitingToReconnect, done }

    let identity: NodeIdentity
    let machine: NodeMachine
    let chain: SyntheticChain
    let role: NodeRole
    /// How much later than its chain's first node it imports each block.
    let chainDelayMs: UInt64
    private unowned let run: LoadRun
    private(set) var state: State = .idle
    private var socket: NodeSocket?
    /// This connection's messages and other bytes, in stream order.
    private var ledger = DeliveryLedger(firstSequence: 0)
    /// Bytes of the handshake response or of a partial server frame.
    private var inbound: [UInt8] = []
    private var decoder = ts_ws_decoder()
    private var random: SeededRandom

    /// Number of the next message (`loadgen_seq`), across reconnects.
    private(set) var nextSequence: UInt64 = 0
    /// Telemetry messages given a number so far (system.connected excluded).
    private(set) var telemetryAssigned = 0
    /// Messages the kernel took and that are not known to be lost: the
    /// server must have stored each exactly once.
    private(set) var confirmed: UInt64 = 0
    /// Numbers of messages that may not have arrived: not taken by the
    /// kernel, or not acknowledged by the server's TCP, when their
    /// connection ended early.
    private(set) var unconfirmed: [Range<UInt64>] = []
    private var failuresInARow = 0
    private var hasBeenOpen = false
    /// Sending has ended (duration over or all messages sent).
    private var stopping = false
    /// What `drainAdvanced` saw last.
    private var lastReadPosition: UInt64 = 0
    private var lastBytesToKernel: UInt64 = 0

    var clock: RealisticSchedule.NodeClock?
    /// Its chain as it sees it (realistic profile; set when it first joins).
    var follower: ChainFollower?
    /// Draws the figures of its interval messages (peers, queue, bandwidth).
    private var figures: SeededRandom
    private var networkFigures: NetworkFigures
    var rateCredit = 0.0
    private var mixPosition: Int
    private lazy var connectedFrame = run.frames.connected(identity, machine: machine, chain: chain, runStartMs: run.wallStartMs)
    private lazy var hardwareBenchFrame = run.frames.own("sysinfo.hwbench", CurrentNodeMessages.hardwareBench(machine))
    private lazy var networkPeers = run.peers(of: identity.index)
    private lazy var reputations = PeerReputations(seed: run.options.seed, index: identity.index, peers: networkPeers.count)

    init(identity: NodeIdentity, chain: SyntheticChain, role: NodeRole, chainDelayMs: UInt64, run: LoadRun) {
        self.identity = identity
        self.chain = chain
        self.role = role
        self.chainDelayMs = chainDelayMs
        self.run = run
        machine = NodeMachine(seed: run.options.seed, index: identity.index)
        random = SeededRandom(seed: run.options.seed, stream: 5, index: identity.index)
        figures = SeededRandom(seed: run.options.seed, stream: 10, index: identity.index)
        networkFigures = NetworkFigures(random: &figures)
        mixPosition = identity.index
    }

    var isOpen: Bool { state == .open && !stopping }

    /// Its close frame is sent and it waits for the server's.
    var isClosing: Bool { state == .closing }

    /// All telemetry this node was asked for has been numbered.
    var isExhausted: Bool {
        run.options.messagesPerNode.map { telemetryAssigned >= $0 } ?? false
    }

    // MARK: connection

    func connect() {
        guard state == .idle || state == .waitingToReconnect else { return }
        state = .connecting
        let socket = NodeSocket(loop: run.loop, readBuffer: run.readBuffer)
        self.socket = socket
        socket.connect(ipv4: run.address, port: run.options.target.port) { [unowned self] error in
            guard self.socket === socket, state == .connecting else { return }
            if let error {
                dropped("connect: \(error.name)")
            } else {
                opened(socket)
            }
        }
    }

    private func opened(_ socket: NodeSocket) {
        state = .handshaking
        inbound.removeAll(keepingCapacity: true)
        ledger = DeliveryLedger(firstSequence: nextSequence)
        lastReadPosition = 0
        lastBytesToKernel = 0
        socket.onData = { [unowned self] bytes in received(bytes) }
        socket.onEnd = { [unowned self] error in ended(error) }
        socket.onWritable = { [unowned self] in writable() }
        socket.startReading()
        run.handshake.request.withUnsafeBytes { sendOther($0) }
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        inbound.append(contentsOf: bytes)
        if state == .handshaking {
            switch run.handshake.check(inbound) {
            case .incomplete:
                return
            case let .refused(reason):
                dropped("handshake: \(reason)")
                return
            case let .upgraded(headLength):
                inbound.removeFirst(headLength)
                upgraded()
            }
        }
        readFrames()
    }

    private func upgraded() {
        ts_ws_decoder_init(&decoder, 1 << 20, 0)
        state = .open
        failuresInARow = 0
        if hasBeenOpen { run.stats.reconnects += 1 }
        hasBeenOpen = true
        run.stats.nodeOpened()
        // A silent node keeps its connection but says nothing, not even
        // who it is when it reconnects.
        if !isSilent(elapsedMs: run.elapsedMs) {
            write([connectedFrame])
            // Nodes send their hardware scores on every connection.
            if run.options.shape == .realistic { sendTelemetry([hardwareBenchFrame]) }
        }
        run.nodeOpened(self)
        if isExhausted { beginClosing() }
    }

    /// Server frames: pings are answered (until this side's close frame is
    /// sent), a close ends the connection, data is ignored.
    private func readFrames() {
        guard state == .open || state == .closing else { return }
        var consumed = 0
        var frame = ts_ws_frame()
        while consumed < inbound.count, state == .open || state == .closing {
            let used = inbound.withUnsafeMutableBufferPointer { buffer -> Int64 in
                guard let base = buffer.baseAddress else { return Int64(TS_WS_EAGAIN.rawValue) }
                return ts_ws_decode(&decoder, base + consumed, buffer.count - consumed, &frame)
            }
            if used == Int64(TS_WS_EAGAIN.rawValue) { break }
            if used < 0 {
                dropped("protocol: close \(ts_ws_error_close_code(Int32(used)))")
                return
            }
            consumed += Int(used)
            if frame.opcode == UInt8(TS_WS_OP_PING.rawValue) {
                if state == .open {
                    sendControl(opcode: TS_WS_OP_PONG, payload: UnsafeRawBufferPointer(start: frame.payload, count: frame.payload_len))
                    run.stats.pingsAnswered += 1
                }
            } else if frame.opcode == UInt8(TS_WS_OP_CLOSE.rawValue) {
                closedByServer(code: frame.close_code)
                return
            }
        }
        if consumed > 0 && consumed <= inbound.count { inbound.removeFirst(consumed) }
    }

    private func closedByServer(code: UInt16) {
        if state == .closing {
            // The answer to this side's close frame: the server has read
            // everything sent before it (what its TCP has not acknowledged,
            // should it have closed first, is counted as unconfirmed).
            settle()
            finish()
            return
        }
        sendClose(code: code == 1005 ? 0 : code)
        dropped("closed by server: \(code)")
    }

    /// A masked control frame (pong) carrying `payload` (at most 125 bytes,
    /// as the ping that asked for it).
    private func sendControl(opcode: ts_ws_opcode, payload: UnsafeRawBufferPointer) {
        guard payload.count <= 125 else { return }
        var frame = [UInt8](repeating: 0, count: 6 + payload.count)
        run.frames.stamp.mask.withBytes { key in
            frame.withUnsafeMutableBufferPointer { out in
                guard let base = out.baseAddress else { return }
                let header = Int(ts_ws_encode_header(base, out.count, opcode, 1, UInt64(payload.count), key))
                if let source = payload.baseAddress, payload.count > 0 {
                    (base + header).update(from: source.assumingMemoryBound(to: UInt8.self), count: payload.count)
                    ts_ws_apply_mask(base + header, payload.count, key, 0)
                }
            }
        }
        frame.withUnsafeBytes { sendOther($0) }
    }

    /// A masked close frame with `code` (0: no code).
    private func sendClose(code: UInt16) {
        var frame = [UInt8](repeating: 0, count: 8)
        let length = run.frames.stamp.mask.withBytes { ts_ws_encode_close(&frame, frame.count, code, nil, 0, $0) }
        if length > 0 { frame[0..<Int(length)].withUnsafeBytes { sendOther($0) } }
    }

    private func ended(_ error: UVError?) {
        if state == .closing {
            // The server closed without answering this side's close.
            settle()
            finish()
        } else if let failure = socket?.writeFailure {
            dropped("write: \(failure.name)")
        } else {
            dropped("read: \(error?.name ?? "EOF")")
        }
    }

    /// The connection is gone: count why, reconnect after a backoff unless
    /// the run is ending.
    private func dropped(_ reason: String) {
        run.stats.count(error: reason)
        settle()
        releaseSocket()
        if stopping || run.isStopping {
            finish()
            return
        }
        state = .waitingToReconnect
        failuresInARow += 1
        // 100 ms doubling to 5 s, each delay between half and all of it so
        // nodes dropped together do not come back together.
        let ceiling = min(100 << min(failuresInARow - 1, 6), 5_000)
        let delay = UInt64(ceiling / 2) + random.next() % UInt64(ceiling / 2 + 1)
        // Weak: a reconnect still pending when the run ends must not keep
        // the node, its run and the loop alive (the loop holds the timer).
        LoopTimer.once(on: run.loop, after: delay) { [weak self] in
            if let self, state == .waitingToReconnect { connect() }
        }
    }

    /// The connection is ending early: its messages that the kernel has not
    /// taken, or that the server's TCP has not acknowledged, may not have
    /// arrived. They leave `confirmed` for `unconfirmed`. Returns how many
    /// of each.
    @discardableResult
    private func settle() -> (notSent: UInt64, unacknowledged: UInt64) {
        guard let socket else { return (0, 0) }
        account()
        if let acknowledged = socket.bytesAcknowledged { ledger.acknowledged(upTo: acknowledged) }
        // Without the kernel's count every message it holds is in doubt.
        let unacknowledged = ledger.unacknowledged, notSent = ledger.notHanded
        if !unacknowledged.isEmpty {
            confirmed -= UInt64(unacknowledged.count)
            unconfirmed.append(unacknowledged)
        }
        if !notSent.isEmpty { unconfirmed.append(notSent) }
        let counts = (UInt64(notSent.count), UInt64(unacknowledged.count))
        run.stats.messagesUnconfirmed += counts.0 + counts.1
        ledger = DeliveryLedger(firstSequence: nextSequence)
        return counts
    }

    /// Lets go of the socket: shut gracefully (FIN after what is queued,
    /// then read until the server's EOF) unless it has already ended.
    private func releaseSocket() {
        if state == .open || state == .closing { run.stats.nodeClosed() }
        inbound.removeAll(keepingCapacity: false)
        guard let socket else { return }
        self.socket = nil
        run.linger(socket)
    }

    private func finish() {
        releaseSocket()
        guard state != .done else { return }
        state = .done
        run.nodeFinished(self)
    }

    // MARK: ending

    /// Sends nothing more: the close frame (1000) follows what is queued.
    func stop() {
        guard !stopping else { return }
        stopping = true
        switch state {
        case .open: beginClosing()
        case .idle, .waitingToReconnect, .connecting, .handshaking:
            settle()
            finish()
        case .closing, .done: break
        }
    }

    private func beginClosing() {
        guard state == .open else { return }
        stopping = true
        state = .closing
        sendClose(code: 1000)
        run.nodeClosing(self)
    }

    /// Ends now, whatever is pending (the close timeout passed, or the
    /// run failed). Returns the messages that may not have arrived.
    @discardableResult
    func abort(reason: String = "close: timed out") -> (notSent: UInt64, unacknowledged: UInt64) {
        guard state != .done else { return (0, 0) }
        if state != .idle { run.stats.count(error: reason) }
        let lost = settle()
        if state == .open || state == .closing { run.stats.nodeClosed() }
        // No lingering: the run is giving up on this connection.
        socket?.close()
        socket = nil
        state = .done
        run.nodeFinished(self)
        return lost
    }

    /// While closing: whether the server has read anything from this node
    /// since the last call (its window's right edge moved, or the kernel
    /// took more of the queue).
    func drainAdvanced() -> Bool {
        guard state == .closing, let socket else { return false }
        account()
        let position = socket.readPosition ?? 0
        let toKernel = socket.bytesToKernel
        defer {
            lastReadPosition = max(lastReadPosition, position)
            lastBytesToKernel = toKernel
        }
        return position > lastReadPosition || toKernel > lastBytesToKernel
    }

    // MARK: sending

    /// Whether the socket can take more now; counts `count` messages as
    /// throttled when it cannot.
    func canSend(_ count: Int) -> Bool {
        guard isOpen, let socket else { return false }
        if socket.queuedBytes > run.options.maxQueuedBytes {
            run.stats.messagesThrottled += UInt64(count)
            return false
        }
        return true
    }

    /// The next `count` kinds of the mix, in turn, as one write.
    func sendMix(_ count: Int) {
        let mix = run.frames.mix
        guard !mix.isEmpty else { return }
        let allowed = run.options.messagesPerNode.map { min(count, $0 - telemetryAssigned) } ?? count
        guard allowed > 0 else { return }
        var frames: [FrameTemplate] = []
        frames.reserveCapacity(allowed)
        for _ in 0..<allowed {
            frames.append(mix[mixPosition % mix.count])
            mixPosition &+= 1
        }
        telemetryAssigned += allowed
        write(frames)
        if isExhausted { beginClosing() }
    }

    /// `--rate max`: one more batch of about the run's `batchBytes` when
    /// the socket has room; the next one when the socket is writable again
    /// (the next turn of the loop if the kernel took it all).
    func sendMaxBatch() {
        guard isOpen, !isExhausted, let socket, socket.queuedBytes <= run.options.maxQueuedBytes else { return }
        let mix = run.frames.mix
        guard !mix.isEmpty else { return }
        var bytes = 0, count = 0
        var position = mixPosition
        while bytes < run.batchBytes {
            bytes += mix[position % mix.count].count
            position &+= 1
            count += 1
        }
        sendMix(count)
        if isOpen, socket.queuedBytes == 0 { socket.requestWritable() }
    }

    /// A schedule event due now, as one write: block round `round` on
    /// the chain clock.
    func sendScheduled(_ event: RealisticSchedule.Event, round: UInt64) {
        let elapsed = run.elapsedMs
        if isSilent(elapsedMs: elapsed) { return }
        // A stalled node sends only its intervals (and reports).
        if event.onChainClock, follower?.isStalled(elapsedMs: elapsed) ?? false { return }
        var frames: [FrameTemplate] = []
        // One finality step per event, told by each finality kind in it
        // (notify.finalized, and afg.finalized_blocks_up_to at verbosity 1).
        var finalityChecked = false
        var newlyFinalized: ChainFollower.Block?
        func finalized() -> ChainFollower.Block? {
            if !finalityChecked {
                finalityChecked = true
                newlyFinalized = follower?.finalityArrived()
            }
            return newlyFinalized
        }
        for kind in event.kinds {
            switch kind {
            case "system.interval":
                frames += intervalFrames()
            case "block.import":
                if let (block, origin) = follower?.blockArrived(round, elapsedMs: elapsed) {
                    frames.append(run.frames.own(kind, CurrentNodeMessages.blockImport(block, origin: origin)))
                }
            case "notify.finalized":
                if let block = finalized() { frames.append(run.frames.own(kind, CurrentNodeMessages.finalized(block))) }
            case "afg.finalized_blocks_up_to":
                if let block = finalized() { frames.append(run.frames.own(kind, CurrentNodeMessages.finalizedUpTo(block))) }
            case "system.network_state":
                // Built per report (once a minute): the reputations change.
                frames.append(run.frames.networkState(identity, peers: networkPeers, reputations: reputations.values))
                reputations.advance()
            default:
                if let template = run.frames.template(kind) { frames.append(template) }
            }
        }
        sendTelemetry(frames)
    }

    /// Both interval messages of a tick: the node's blocks, then its network.
    private func intervalFrames() -> [FrameTemplate] {
        guard let follower else { return [] }
        let chainPart = CurrentNodeMessages.intervalChain(
            best: follower.best, finalized: follower.finalized, txcount: Int(figures.next() % 8),
            stateCacheBytes: 400_000_000 + figures.next() % 600_000_000)
        let network = networkFigures.next(&figures)
        let networkPart = CurrentNodeMessages.intervalNetwork(
            peers: network.peers, downloadBytesPerSecond: network.download, uploadBytesPerSecond: network.upload)
        return [run.frames.own("system.interval", chainPart), run.frames.own("system.interval", networkPart)]
    }

    /// Telemetry (counted for `--messages-per-node`), as one write.
    private func sendTelemetry(_ frames: [FrameTemplate]) {
        let allowed = run.options.messagesPerNode.map { frames.prefix(max(0, $0 - telemetryAssigned)) } ?? frames[...]
        telemetryAssigned += allowed.count
        write(Array(allowed))
        if isExhausted { beginClosing() }
    }

    private func isSilent(elapsedMs: UInt64) -> Bool {
        role.silentAfterMs.map { elapsedMs >= $0 } ?? false
    }

    /// Numbers, stamps and writes `frames` (in pieces of the run's scratch
    /// buffer). Numbers that cannot be sent at all are unconfirmed.
    private func write(_ frames: [FrameTemplate]) {
        guard !frames.isEmpty else { return }
        guard let socket, socket.canSend, let base = run.scratch.baseAddress else {
            let first = nextSequence
            nextSequence += UInt64(frames.count)
            failed(first..<nextSequence)
            return
        }
        let capacity = run.scratch.count
        run.frames.stamp.update(to: WallClock.nowNanoseconds &+ role.skewNanoseconds)
        run.frames.stamp.bestBlock = run.bestBlock
        var used = 0
        for frame in frames {
            if used + frame.count > capacity, used > 0 {
                socket.send(UnsafeRawBufferPointer(start: base, count: used))
                used = 0
            }
            let size = frame.write(to: base + used, stamp: run.frames.stamp, sequence: nextSequence)
            ledger.message(bytes: size)
            nextSequence += 1
            used += size
        }
        if used > 0 { socket.send(UnsafeRawBufferPointer(start: base, count: used)) }
        account()
    }

    /// Bytes that are not a message (upgrade request, pong, close frame).
    private func sendOther(_ bytes: UnsafeRawBufferPointer) {
        guard let socket, socket.canSend else { return }
        ledger.other(bytes: bytes.count)
        socket.send(bytes)
        account()
    }

    /// Counts the messages the kernel has taken whole since the last call
    /// as sent; forgets, now and then, those the server's TCP acknowledged.
    private func account() {
        guard let socket else { return }
        let (messages, bytes) = ledger.handed(upTo: socket.bytesToKernel)
        if messages > 0 {
            confirmed += messages
            run.stats.messagesSent += messages
            run.stats.bytesSent += bytes
            run.stats.lastWriteMs = run.loop.nowMilliseconds
        }
        if ledger.piecesInKernel >= 4096, let acknowledged = socket.bytesAcknowledged {
            ledger.acknowledged(upTo: acknowledged)
        }
    }

    private func failed(_ numbers: Range<UInt64>) {
        unconfirmed.append(numbers)
        run.stats.messagesUnconfirmed += UInt64(numbers.count)
    }

    private func writable() {
        account()
        if run.options.shape == .max { sendMaxBatch() }
    }
}
