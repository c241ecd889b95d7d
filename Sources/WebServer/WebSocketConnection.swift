import CSupport
import Reactor

/// What a WebSocket connection tells the layer that uses it.
package protocol WebSocketDelegate: AnyObject {
    /// One whole message; `payload` is valid only during the call.
    func webSocket(_ socket: WebSocketConnection, didReceive payload: UnsafeRawBufferPointer, isText: Bool)
    /// The TCP connection is gone; `code` is the close code that ended it.
    func webSocketDidClose(_ socket: WebSocketConnection, code: UInt16)
}

/// One server-side WebSocket over an accepted TCP stream.
///
/// Frames are decoded in place in the loop's shared read buffer; only the
/// bytes of an incomplete frame or fragmented message are copied into
/// buffers of the connection, which are released once drained, so an idle
/// socket holds no buffer.
package final class WebSocketConnection {
    package enum State { case open, closing, closed }

    package let id: UInt64
    package let peerAddress: String
    package private(set) var state: State = .open
    /// Held strongly until the connection is over, then let go (after
    /// webSocketDidClose), which breaks the cycle with a delegate that holds
    /// the connection. Not weak: a weakly referenced object pays for a side
    /// table on every retain and release, and this one is used per message.
    package var delegate: WebSocketDelegate?

    private let stream: TCPStream
    private let loop: EventLoop
    private var decoder = ts_ws_decoder()
    private var input: [UInt8] = []
    private var fragments: [UInt8] = []
    private var fragmentsAreText = false
    private var pausedBy: Set<PauseReason> = []
    private var closeCode: UInt16 = 1006
    /// The close code the connection ended with (1006: no close frame).
    var closeCodeForMetrics: UInt16 { closeCode }
    private var closeTimer: LoopTimer?
    /// How long a closed connection may wait for the peer to take its last
    /// bytes (the close frame) before the TCP connection is dropped.
    private let lingerMs: UInt64
    /// At most one pong waits in the write queue; the payload of a ping
    /// that arrives meanwhile is kept for the next one (RFC 6455 §5.5.3 lets
    /// a pong answer only the latest ping), so a peer that sends pings and
    /// never reads cannot grow the queue.
    private var pongQueued = false
    private var nextPongPayload: [UInt8]?
    /// Size of the incomplete frame at the head of `input`, once known.
    private var pendingFrameBytes = 0
    var onClosed: ((WebSocketConnection) -> Void)?

    /// Loop time of the last whole frame received: data, ping, pong or
    /// close. Bytes of an unfinished frame do not count, so a peer that
    /// trickles a frame a byte at a time is as silent as one that sends
    /// nothing.
    package private(set) var lastReceivedMs: UInt64
    var lastPingMs: UInt64

    /// Why reading is paused; reading resumes when no reason is left. The
    /// transport only counts them: the application names its own reasons
    /// (`extension PauseReason { static let … = PauseReason("…") }`).
    package struct PauseReason: Hashable, Sendable {
        let name: String
        package init(_ name: String) { self.name = name }
    }

    init(id: UInt64, stream: TCPStream, loop: EventLoop, peerAddress: String, maxMessageBytes: Int, lingerMs: UInt64) {
        self.id = id
        self.stream = stream
        self.loop = loop
        self.peerAddress = peerAddress
        self.lingerMs = lingerMs
        lastReceivedMs = loop.nowMilliseconds
        lastPingMs = lastReceivedMs
        ts_ws_decoder_init(&decoder, UInt64(maxMessageBytes), 1)
    }

    /// Starts reading; `initial` holds bytes that arrived with the upgrade.
    func start(initial: [UInt8]) {
        input = initial
        stream.startReading(onData: { [unowned self] bytes in
            self.received(bytes)
        }, onEnd: { [unowned self] _ in
            self.stream.close()
            self.finish()
        })
        // The application may have paused the socket while configuring it
        // (backpressure at the upgrade): then the kernel keeps the bytes.
        // Reading past a pause would pile them up in `input`, unbounded,
        // and lose them if the peer then closed.
        if !pausedBy.isEmpty { stream.pauseReading() }
        if !input.isEmpty { processInput() }
    }

    // MARK: Reading

    private func received(_ bytes: UnsafeMutableRawBufferPointer) {
        guard state != .closed else { return }
        if input.isEmpty {
            let used = decode(bytes)
            if used < bytes.count, state != .closed {
                input.reserveCapacity(max(pendingFrameBytes, bytes.count - used))
                input.append(contentsOf: bytes[used...])
            }
        } else {
            input.append(contentsOf: bytes)
            processInput()
        }
    }

    /// Decodes what `input` holds. The bytes are moved out first: handling a
    /// frame may fail the connection, which clears `input`, and Swift
    /// forbids touching an array while its bytes are lent out.
    private func processInput() {
        var buffer = input
        input = []
        let used = buffer.withUnsafeMutableBytes { decode($0) }
        guard state != .closed, used < buffer.count else { return } // empty: the buffer is released
        buffer.removeFirst(used)
        buffer.reserveCapacity(pendingFrameBytes)
        input = buffer
    }

    /// Decodes and handles frames until the bytes run out, the connection
    /// pauses or fails. Returns the number of bytes used.
    private func decode(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        var offset = 0
        var frame = ts_ws_frame()
        pendingFrameBytes = 0
        while offset < bytes.count, pausedBy.isEmpty, state != .closed {
            let result = ts_ws_decode(&decoder, base + offset, bytes.count - offset, &frame)
            if result == Int64(TS_WS_EAGAIN.rawValue) {
                pendingFrameBytes = Int(frame.needed)
                break
            }
            if result < 0 {
                fail(code: ts_ws_error_close_code(Int32(result)), reason: Self.reason(for: Int32(result)))
                return bytes.count
            }
            offset += Int(result)
            handle(frame)
        }
        if offset > 0 { lastReceivedMs = loop.nowMilliseconds }
        return offset
    }

    private func handle(_ frame: ts_ws_frame) {
        let payload = UnsafeRawBufferPointer(start: frame.payload, count: frame.payload_len)
        switch ts_ws_opcode(rawValue: UInt32(frame.opcode)) {
        case TS_WS_OP_TEXT, TS_WS_OP_BINARY:
            // Data may still arrive after our own close frame (RFC 6455 §5.5.1),
            // e.g. what a node had sent before it saw our 1001 at shutdown.
            guard state != .closed else { return }
            let isText = frame.opcode == UInt8(TS_WS_OP_TEXT.rawValue)
            if frame.first != 0 && frame.fin != 0 {
                delegate?.webSocket(self, didReceive: payload, isText: isText)
                return
            }
            if frame.first != 0 { fragmentsAreText = isText }
            fragments.append(contentsOf: payload)
            if frame.fin != 0 {
                let message = fragments // moved out: the delegate may fail the connection
                fragments = []
                message.withUnsafeBytes { delegate?.webSocket(self, didReceive: $0, isText: fragmentsAreText) }
            }
        case TS_WS_OP_PING:
            guard state == .open else { return }
            if pongQueued {
                nextPongPayload = Array(payload)
            } else {
                sendPong(payload)
            }
        case TS_WS_OP_CLOSE:
            receivedClose(code: frame.close_code)
        default:
            break // pong: its arrival already refreshed lastReceivedMs
        }
    }

    private func receivedClose(code: UInt16) {
        if state == .open {
            // Echo the peer's code (RFC 6455 §5.5.1); 1005 means "none given".
            closeCode = code
            writeClose(code: code == 1005 ? 0 : code, reason: "")
        }
        state = .closed
        stream.closeAfterWrites(within: lingerMs)
        finish()
    }

    // MARK: Flow control

    package func pauseReading(_ reason: PauseReason) {
        pausedBy.insert(reason)
        stream.pauseReading()
    }

    package func resumeReading(_ reason: PauseReason) {
        guard pausedBy.remove(reason) != nil, pausedBy.isEmpty, state != .closed else { return }
        // Time spent paused by the server must not count as client silence.
        lastReceivedMs = loop.nowMilliseconds
        if !input.isEmpty { processInput() }
        if pausedBy.isEmpty, state != .closed { stream.resumeReading() }
    }

    /// Paused because of the server's own state (backpressure): exempt from
    /// the silence timeout.
    package var isPausedByServer: Bool { !pausedBy.isEmpty }

    package var pendingWriteBytes: Int { stream.pendingWriteBytes }

    // MARK: Writing

    package func sendText(_ bytes: UnsafeRawBufferPointer) {
        send(opcode: TS_WS_OP_TEXT, bytes)
    }

    /// Sends a text message and calls `written` once the kernel has taken
    /// it (or the connection failed): lets a sender pace itself.
    package func sendText(_ bytes: UnsafeRawBufferPointer, written: @escaping () -> Void) {
        send(opcode: TS_WS_OP_TEXT, bytes, written: written)
    }

    package func sendBinary(_ bytes: UnsafeRawBufferPointer) {
        send(opcode: TS_WS_OP_BINARY, bytes)
    }

    private func sendPong(_ payload: UnsafeRawBufferPointer) {
        pongQueued = true
        send(opcode: TS_WS_OP_PONG, payload, written: { [weak self] in self?.pongWritten() })
    }

    private func pongWritten() {
        pongQueued = false
        guard state == .open, let payload = nextPongPayload else { return }
        nextPongPayload = nil
        payload.withUnsafeBytes { sendPong($0) }
    }

    /// The peer has taken none of the queued bytes for `timeoutMs` (see
    /// TCPStream.writesStalled).
    func hasStalledWrites(nowMs: UInt64, timeoutMs: UInt64) -> Bool {
        stream.writesStalled(nowMs: nowMs, timeoutMs: timeoutMs)
    }

    func sendPing() {
        guard state == .open else { return }
        lastPingMs = loop.nowMilliseconds
        send(opcode: TS_WS_OP_PING, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    private func send(opcode: ts_ws_opcode, _ payload: UnsafeRawBufferPointer, written: (() -> Void)? = nil) {
        guard state != .closed else { return }
        var header = (UInt64(0), UInt64(0)) // 16 bytes: the largest unmasked header is 10
        withUnsafeMutableBytes(of: &header) { headerBytes in
            let length = ts_ws_encode_header(headerBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), headerBytes.count,
                                             opcode, 1, UInt64(payload.count), nil)
            guard length > 0 else { return }
            stream.write(UnsafeRawBufferPointer(rebasing: headerBytes[0..<Int(length)]), payload,
                         completion: written.map { callback in { _ in callback() } })
        }
    }

    private func writeClose(code: UInt16, reason: String) {
        var frame = [UInt8](repeating: 0, count: 4 + 125)
        let text = Self.closeReason(reason)
        let length = text.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { ts_ws_encode_close(&frame, frame.count, code, $0.baseAddress, $0.count, nil) }
        }
        if length > 0 { stream.write(Array(frame[0..<Int(length)])) }
    }

    /// A close frame's reason: at most 123 bytes (RFC 6455 5.5), cut before
    /// a character rather than inside one, so that it stays valid UTF-8
    /// (a peer must fail a connection whose close reason is not).
    static func closeReason(_ reason: String) -> [UInt8] {
        var bytes = Array(reason.utf8.prefix(124))
        guard bytes.count > 123 else { return bytes }
        bytes.removeLast()
        // Drop a character's lead byte and the continuation bytes that
        // follow it when the cut left it incomplete.
        var end = bytes.count
        while end > 0, bytes[end - 1] & 0xC0 == 0x80 { end -= 1 }
        if end > 0, bytes[end - 1] >= 0xC0 {
            let lead = bytes[end - 1]
            let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            if bytes.count - (end - 1) < needed { bytes.removeSubrange((end - 1)...) }
        }
        return bytes
    }

    // MARK: Closing

    /// Starts the closing handshake (e.g. 1001 at shutdown). The TCP
    /// connection closes when the peer answers or after `timeoutMs`.
    package func close(code: UInt16, reason: String = "", timeoutMs: UInt64 = 2000) {
        guard state == .open else { return }
        state = .closing
        closeCode = code
        writeClose(code: code, reason: reason)
        let timer = LoopTimer(loop: loop)
        closeTimer = timer
        timer.start(after: timeoutMs) { [unowned self] in
            self.stream.close()
            self.finish()
        }
    }

    /// Fails the connection (RFC 6455 §7.1.7): close frame, then TCP close.
    package func fail(code: UInt16, reason: String) {
        guard state != .closed else { return }
        if state == .open { writeClose(code: code, reason: reason) }
        closeCode = code
        state = .closed
        input = []
        fragments = []
        stream.closeAfterWrites(within: lingerMs)
        finish()
    }

    /// Drops the TCP connection without a closing handshake (dead peer).
    func abort(code: UInt16) {
        closeCode = code
        state = .closed
        stream.close()
        finish()
    }

    /// Bookkeeping once the connection is over; runs exactly once.
    private func finish() {
        guard let onClosed else { return }
        self.onClosed = nil
        state = .closed
        closeTimer?.stop()
        closeTimer = nil
        let delegate = self.delegate
        self.delegate = nil
        delegate?.webSocketDidClose(self, code: closeCode)
        onClosed(self)
    }

    private static func reason(for error: Int32) -> String {
        switch error {
        case TS_WS_EUTF8.rawValue: return "invalid UTF-8"
        case TS_WS_ETOOBIG.rawValue: return "message too big"
        default: return "protocol error"
        }
    }
}
