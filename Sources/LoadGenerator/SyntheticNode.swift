import CSupport
import Reactor

/// One synthetic node: its own TCP connection and WebSocket, its message
/// numbering, and reconnection with backoff when the connection drops.
final class SyntheticNode {
    enum State { case idle, connecting, handshaking, open, closing, waitingToReconnect, done }

    let identity: NodeIdentity
    private unowned let run: LoadRun
    private(set) var state: State = .idle
    private var stream: TCPStream?
    /// Bytes of the handshake response or of a partial server frame.
    private var inbound: [UInt8] = []
    private var decoder = ts_ws_decoder()
    private var random: SeededRandom

    /// Number of the next message (`loadgen_seq`), across reconnects.
    private(set) var nextSequence: UInt64 = 0
    /// Telemetry messages given a number so far (system.connected excluded).
    private(set) var telemetryAssigned = 0
    /// Messages whose write completed.
    private(set) var confirmed: UInt64 = 0
    /// Numbers of messages whose write failed when the connection broke.
    private(set) var unconfirmed: [Range<UInt64>] = []
    private var writesInFlight = 0
    private var failuresInARow = 0
    private var hasBeenOpen = false
    /// Sending has ended (duration over or all messages sent): close once
    /// the writes in flight complete.
    private var stopping = false

    var clock: RealisticSchedule.NodeClock?
    var rateCredit = 0.0
    private var mixPosition: Int
    private lazy var connectedFrame = run.frames.connected(identity)
    private lazy var networkStateFrame = run.frames.networkState(identity, peers: run.peers(of: identity.index))

    init(identity: NodeIdentity, run: LoadRun) {
        self.identity = identity
        self.run = run
        random = SeededRandom(seed: run.options.seed, stream: 5, index: identity.index)
        mixPosition = identity.index
    }

    var isOpen: Bool { state == .open && !stopping }

    /// All telemetry this node was asked for has been numbered.
    var isExhausted: Bool {
        run.options.messagesPerNode.map { telemetryAssigned >= $0 } ?? false
    }

    // MARK: connection

    func connect() {
        guard state == .idle || state == .waitingToReconnect else { return }
        state = .connecting
        TCPStream.connect(loop: run.loop, host: run.address, port: run.options.target.port) { [self] result in
            switch result {
            case let .success(stream):
                guard state == .connecting else {
                    stream.close()
                    return
                }
                opened(stream)
            case let .failure(error):
                guard state == .connecting else { return }
                dropped("connect: \(error.name)")
            }
        }
    }

    private func opened(_ stream: TCPStream) {
        self.stream = stream
        state = .handshaking
        inbound.removeAll(keepingCapacity: true)
        stream.setNoDelay(true)
        stream.startReading(onData: { [unowned self] bytes in received(bytes) },
                            onEnd: { [unowned self] error in ended(error) })
        run.handshake.request.withUnsafeBytes { _ = stream.write($0) }
    }

    private func received(_ bytes: UnsafeMutableRawBufferPointer) {
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
        write([connectedFrame])
        run.nodeOpened(self)
    }

    /// Server frames: pings are answered, a close is answered and ends the
    /// connection, data is ignored.
    private func readFrames() {
        guard state == .open || state == .closing else { return }
        var consumed = 0
        var frame = ts_ws_frame()
        while consumed < inbound.count, state == .open || state == .closing {
            let used = inbound.withUnsafeMutableBufferPointer { buffer in
                ts_ws_decode(&decoder, buffer.baseAddress! + consumed, buffer.count - consumed, &frame)
            }
            if used == Int64(TS_WS_EAGAIN.rawValue) { break }
            if used < 0 {
                dropped("protocol: close \(ts_ws_error_close_code(Int32(used)))")
                return
            }
            consumed += Int(used)
            if frame.opcode == UInt8(TS_WS_OP_PING.rawValue) {
                sendControl(opcode: TS_WS_OP_PONG, payload: UnsafeRawBufferPointer(start: frame.payload, count: frame.payload_len))
                run.stats.pingsAnswered += 1
            } else if frame.opcode == UInt8(TS_WS_OP_CLOSE.rawValue) {
                closedByServer(code: frame.close_code)
                return
            }
        }
        if consumed > 0 && consumed <= inbound.count { inbound.removeFirst(consumed) }
    }

    private func closedByServer(code: UInt16) {
        if state == .closing {
            finish()
            return
        }
        sendClose(code: code == 1005 ? 0 : code)
        dropped("closed by server: \(code)")
    }

    /// A masked control frame (pong) carrying `payload` (at most 125 bytes,
    /// as the ping that asked for it).
    private func sendControl(opcode: ts_ws_opcode, payload: UnsafeRawBufferPointer) {
        guard let stream, payload.count <= 125 else { return }
        var frame = [UInt8](repeating: 0, count: 6 + payload.count)
        run.frames.stamp.mask.withBytes { key in
            frame.withUnsafeMutableBufferPointer { out in
                let header = Int(ts_ws_encode_header(out.baseAddress, out.count, opcode, 1, UInt64(payload.count), key))
                if payload.count > 0 {
                    (out.baseAddress! + header).update(from: payload.baseAddress!.assumingMemoryBound(to: UInt8.self), count: payload.count)
                    ts_ws_apply_mask(out.baseAddress! + header, payload.count, key, 0)
                }
            }
        }
        stream.write(frame)
    }

    /// A masked close frame with `code` (0: no code).
    private func sendClose(code: UInt16) {
        guard let stream else { return }
        var frame = [UInt8](repeating: 0, count: 8)
        let length = run.frames.stamp.mask.withBytes { ts_ws_encode_close(&frame, frame.count, code, nil, 0, $0) }
        if length > 0 { stream.write(Array(frame[0..<Int(length)])) }
    }

    private func ended(_ error: UVError?) {
        if state == .closing {
            finish()
        } else {
            dropped("read: \(error?.name ?? "EOF")")
        }
    }

    /// The connection is gone: count why, reconnect after a backoff unless
    /// the run is ending.
    private func dropped(_ reason: String) {
        run.stats.count(error: reason)
        closeStream()
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

    private func closeStream() {
        if state == .open || state == .closing { run.stats.nodeClosed() }
        stream?.close()
        stream = nil
        inbound.removeAll(keepingCapacity: false)
    }

    private func finish() {
        closeStream()
        guard state != .done else { return }
        state = .done
        run.nodeFinished(self)
    }

    // MARK: ending

    /// Sends nothing more: closes (1000) once the writes in flight are done.
    func stop() {
        guard !stopping else { return }
        stopping = true
        switch state {
        case .open: closeWhenWritten()
        case .idle, .waitingToReconnect, .connecting, .handshaking: finish()
        case .closing, .done: break
        }
    }

    /// Ends now, whatever is pending (the run's closing deadline passed).
    func abort() {
        guard state != .done else { return }
        if state != .idle { run.stats.count(error: "close: timed out") }
        finish()
    }

    private func closeWhenWritten() {
        guard state == .open, writesInFlight == 0 else { return }
        state = .closing
        sendClose(code: 1000)
    }

    // MARK: sending

    /// Whether the socket can take more now; counts `count` messages as
    /// throttled when it cannot.
    func canSend(_ count: Int) -> Bool {
        guard isOpen, let stream else { return false }
        if stream.pendingWriteBytes > run.options.maxQueuedBytes {
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
    }

    /// `--rate max`: one more batch of about the run's `batchBytes` when
    /// the socket has room.
    func sendMaxBatch() {
        guard isOpen, !isExhausted, let stream, stream.pendingWriteBytes <= run.options.maxQueuedBytes else { return }
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
    }

    /// Kinds of the realistic schedule due now, as one write.
    func sendScheduled(_ kinds: [String]) {
        var frames: [FrameTemplate] = []
        for kind in kinds {
            if isExhausted { break }
            if kind == "system.network_state" {
                frames.append(networkStateFrame)
            } else if let template = run.frames.template(kind) {
                frames.append(template)
            }
            telemetryAssigned += 1
        }
        write(frames)
    }

    /// Numbers, stamps and writes `frames` as one write (several if they
    /// do not fit the run's scratch buffer).
    private func write(_ frames: [FrameTemplate]) {
        let scratch = run.scratch
        run.frames.stamp.updateToNow()
        run.frames.stamp.bestBlock = run.bestBlock
        var used = 0, first = nextSequence, count = 0
        for frame in frames {
            if used + frame.count > scratch.count, count > 0 {
                flush(UnsafeRawBufferPointer(start: scratch.baseAddress, count: used), first: first, count: count)
                used = 0
                first = nextSequence
                count = 0
            }
            used += frame.write(to: scratch.baseAddress! + used, stamp: run.frames.stamp, sequence: nextSequence)
            nextSequence += 1
            count += 1
        }
        if count > 0 { flush(UnsafeRawBufferPointer(start: scratch.baseAddress, count: used), first: first, count: count) }
    }

    private func flush(_ bytes: UnsafeRawBufferPointer, first: UInt64, count: Int) {
        let numbers = first..<(first + UInt64(count))
        guard let stream else {
            failed(numbers)
            return
        }
        writesInFlight += 1
        let size = UInt64(bytes.count)
        let accepted = stream.write(bytes) { [self] error in
            writesInFlight -= 1
            if error == nil {
                confirmed += UInt64(count)
                run.stats.lastWriteMs = run.loop.nowMilliseconds
                run.stats.messagesSent += UInt64(count)
                run.stats.bytesSent += size
            } else {
                failed(numbers)
            }
            written()
        }
        if !accepted {
            writesInFlight -= 1
            failed(numbers)
        }
    }

    private func failed(_ numbers: Range<UInt64>) {
        unconfirmed.append(numbers)
        run.stats.messagesUnconfirmed += UInt64(numbers.count)
    }

    private func written() {
        if stopping || isExhausted {
            stopping = true
            closeWhenWritten()
        } else if run.options.shape == .max {
            sendMaxBatch()
        }
    }
}
