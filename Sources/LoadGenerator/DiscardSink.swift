import CSupport
import Glibc
import Reactor

/// A WebSocket server that accepts any upgrade and throws every message
/// away, counting them: the other end for measuring how fast the load
/// generator itself can send. Frames are only walked (header read, payload
/// skipped), not unmasked, so the sink costs little next to the sender.
package final class DiscardSink {
    private let loop = EventLoop()
    private var listener: TCPListener?
    private var connections: [ObjectIdentifier: SinkConnection] = [:]
    private var signals: [SignalWatcher] = []
    private let reportTimer: LoopTimer
    private let endTimer: LoopTimer
    private(set) var messages: UInt64 = 0
    private(set) var bytes: UInt64 = 0
    private var lastMessages: UInt64 = 0
    private var firstMessageMs: UInt64 = 0
    private var lastMessageMs: UInt64 = 0
    package private(set) var port = 0

    package init(host: String, port: Int) throws {
        reportTimer = LoopTimer(loop: loop)
        endTimer = LoopTimer(loop: loop)
        listener = try TCPListener(loop: loop, host: host, port: port, backlog: 8192) { [unowned self] stream in
            accepted(stream)
        }
        self.port = listener?.port ?? port
    }

    /// Serves until SIGINT/SIGTERM or `seconds`; prints a line per second
    /// with messages received (when `everySecond`), then a total.
    package func run(seconds: Double?, everySecond: Bool) -> String {
        // A write to a node that has gone must fail with EPIPE, not kill us.
        signal(SIGPIPE, SIG_IGN)
        for signal in [SIGINT, SIGTERM] {
            if let watcher = try? SignalWatcher(loop: loop, signal: signal, { [unowned self] _ in stop() }) {
                signals.append(watcher)
            }
        }
        if let seconds { endTimer.start(after: UInt64(seconds * 1000)) { [unowned self] in stop() } }
        if everySecond {
            reportTimer.start(after: 1000, repeat: 1000) { [unowned self] in
                let line = "sink: \(connections.count) connections, \(Format.grouped(messages &- lastMessages)) messages/s, "
                    + "\(Format.grouped(messages)) in all\n"
                lastMessages = messages
                var bytes = Array(line.utf8)
                _ = Glibc.write(2, &bytes, bytes.count)
            }
        }
        loop.run()
        let seconds = Double(lastMessageMs &- firstMessageMs) / 1000
        let rate = seconds > 0 ? Double(messages) / seconds : 0
        return "sink: \(Format.grouped(messages)) messages, \(Format.grouped(bytes)) bytes; "
            + "\(Format.grouped(UInt64(rate))) messages/s from the first message to the last (\(Format.seconds(seconds)))"
    }

    private func stop() {
        listener?.close()
        listener = nil
        for connection in connections.values { connection.stream.close() }
        connections.removeAll()
        signals.removeAll()
        reportTimer.stop()
        endTimer.stop()
        loop.stop()
    }

    private func accepted(_ stream: TCPStream) {
        let connection = SinkConnection(stream: stream)
        let key = ObjectIdentifier(connection)
        connections[key] = connection
        stream.startReading(onData: { [unowned self, unowned connection] bytes in
            let frames = connection.received(bytes)
            if frames > 0 {
                if messages == 0 { firstMessageMs = loop.nowMilliseconds }
                lastMessageMs = loop.nowMilliseconds
                messages += UInt64(frames)
            }
            self.bytes += UInt64(bytes.count)
            if connection.isClosed { connections[key] = nil }
        }, onEnd: { [unowned self] _ in
            stream.close()
            connections[key] = nil
        })
    }
}

/// One sink connection: the upgrade, then frame headers.
final class SinkConnection {
    let stream: TCPStream
    private var head: [UInt8] = []
    private var upgraded = false
    /// Header bytes of a frame split across reads.
    private var header: [UInt8] = []
    /// Payload bytes of the current frame still to skip.
    private var skip: UInt64 = 0
    private(set) var isClosed = false

    init(stream: TCPStream) {
        self.stream = stream
    }

    /// Takes bytes; returns the number of data messages completed.
    func received(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        guard !upgraded else { return walk(UnsafeRawBufferPointer(bytes)) }
        head.append(contentsOf: bytes)
        guard let end = ClientHandshake.headEnd(head) else {
            if head.count > 16_384 { close() }
            return 0
        }
        guard let accept = acceptKey(head[..<end]) else {
            close()
            return 0
        }
        let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: \(accept)\r\n\r\n"
        stream.write(Array(response.utf8))
        upgraded = true
        let rest = Array(head[(end + 4)...])
        head = []
        return rest.withUnsafeBytes { walk($0) }
    }

    private func acceptKey(_ head: ArraySlice<UInt8>) -> String? {
        let text = String(decoding: head, as: UTF8.self)
        for line in text.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "sec-websocket-key" else { continue }
            let key = line[line.index(after: colon)...].trimmingSpaces
            var accept = [CChar](repeating: 0, count: Int(TS_WS_ACCEPT_LEN) + 1)
            guard ts_ws_accept_key(key, key.utf8.count, &accept) == 0 else { return nil }
            return String(cString: accept)
        }
        return nil
    }

    /// Counts frames with FIN set and a data or continuation opcode; a
    /// close frame is answered and ends the connection.
    private func walk(_ input: UnsafeRawBufferPointer) -> Int {
        var frames = 0
        var i = 0
        let n = input.count
        while i < n {
            if skip > 0 {
                let take = Int(min(skip, UInt64(n - i)))
                i += take
                skip -= UInt64(take)
                continue
            }
            if header.isEmpty, n - i >= 14 {
                // Fast path: the whole header is in this read.
                let (size, length, fin, opcode) = SinkConnection.parse(UnsafeRawBufferPointer(rebasing: input[i..<(i + 14)]))
                i += size
                skip = length
                if opcode == 0x8 { return frames + closing() }
                if fin && opcode < 0x8 { frames += 1 }
                continue
            }
            header.append(input[i])
            i += 1
            if header.count >= 2 {
                let needed = SinkConnection.headerSize(header[1])
                if header.count == needed {
                    let (_, length, fin, opcode) = header.withUnsafeBytes { SinkConnection.parse($0) }
                    header.removeAll(keepingCapacity: true)
                    skip = length
                    if opcode == 0x8 { return frames + closing() }
                    if fin && opcode < 0x8 { frames += 1 }
                }
            }
        }
        return frames
    }

    private func closing() -> Int {
        var frame = [UInt8](repeating: 0, count: 4)
        let length = ts_ws_encode_close(&frame, frame.count, 1000, nil, 0, nil)
        if length > 0 { stream.write(Array(frame[0..<Int(length)])) }
        stream.closeAfterWrites(within: 2000) // the sender answers at once or is gone
        isClosed = true
        return 0
    }

    private func close() {
        stream.close()
        isClosed = true
    }

    static func headerSize(_ second: UInt8) -> Int {
        let length = second & 0x7F
        return 2 + (length == 126 ? 2 : length == 127 ? 8 : 0) + (second & 0x80 != 0 ? 4 : 0)
    }

    /// (header size, payload length, FIN, opcode) of a complete header.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> (Int, UInt64, Bool, UInt8) {
        let first = bytes[0], second = bytes[1]
        var length = UInt64(second & 0x7F)
        if length == 126 {
            length = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
        } else if length == 127 {
            length = (2..<10).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[$1]) }
        }
        return (headerSize(second), length, first & 0x80 != 0, first & 0x0F)
    }
}
