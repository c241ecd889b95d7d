import CLibUV
import Glibc

/// One accepted (or connected) TCP connection.
///
/// Reads arrive in the loop's shared buffer and are valid only during the
/// `onData` call. Writes are copied once into the write request, so the
/// caller's bytes may be reused as soon as `write` returns.
package final class TCPStream {
    private let uv = UVHandle<uv_tcp_t>()
    private let loop: EventLoop
    private var onData: ((UnsafeMutableRawBufferPointer) -> Void)?
    private var onEnd: ((UVError?) -> Void)?
    package private(set) var isClosed = false
    package private(set) var isReading = false
    /// Stopped by the loop's ReadTurns until its next iteration (while
    /// `isReading` stays what the owner asked for).
    private var isYielding = false
    /// Bytes accepted by `write` since the stream opened.
    private var bytesSubmitted = 0
    /// `writesStalled` samples: bytes the peer had acknowledged, and when
    /// they last grew (or nothing was outstanding).
    private var bytesAcknowledgedAtSample = 0
    private var writeProgressAtMs: UInt64
    /// Bounds `closeAfterWrites` when the peer never takes the queued bytes.
    private var lingerTimer: LoopTimer?

    init(loop: EventLoop) {
        self.loop = loop
        writeProgressAtMs = loop.nowMilliseconds
        uv_tcp_init(loop.raw, uv.pointer)
        uv.attach(self)
    }

    deinit { close() }

    var streamPointer: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(uv.pointer).assumingMemoryBound(to: uv_stream_t.self)
    }

    /// Starts delivering bytes. `onEnd` gets nil at EOF, an error otherwise;
    /// reading has stopped when it is called.
    package func startReading(onData: @escaping (UnsafeMutableRawBufferPointer) -> Void,
                             onEnd: @escaping (UVError?) -> Void) {
        self.onData = onData
        self.onEnd = onEnd
        resumeReading()
    }

    /// Resumes after `pauseReading()`; the kernel buffers meanwhile, which
    /// is how backpressure reaches the peer (TCP flow control).
    package func resumeReading() {
        guard !isClosed, !isReading, onData != nil else { return }
        isReading = true
        if !isYielding { startLibuvReading() } // else the next turn starts it
    }

    /// The loop's next iteration: read again if the owner still wants to.
    func turnCame() {
        guard isYielding else { return }
        isYielding = false
        if isReading && !isClosed { startLibuvReading() }
    }

    /// Stops reading until the loop's next iteration (ReadTurns).
    private func yieldTurn() {
        guard isReading, !isYielding, !isClosed else { return }
        isYielding = true
        uv_read_stop(streamPointer)
        loop.readTurns.yield(self)
    }

    private func startLibuvReading() {
        uv_read_start(streamPointer, { handle, _, buf in
            let base = UnsafeMutableRawPointer(handle)?.assumingMemoryBound(to: uv_handle_t.self)
            guard let stream = UVHandle<uv_tcp_t>.owner(of: base, as: TCPStream.self), let buf else { return }
            let shared = stream.loop.readBuffer
            // No room once this iteration's reading is spent: libuv then
            // reports UV_ENOBUFS instead of reading, and the stream yields.
            let room = stream.loop.readTurns.isSpent ? 0 : shared.count
            buf.pointee = uv_buf_init(shared.baseAddress?.assumingMemoryBound(to: CChar.self), UInt32(room))
        }, { handle, nread, _ in
            let base = UnsafeMutableRawPointer(handle)?.assumingMemoryBound(to: uv_handle_t.self)
            guard let stream = UVHandle<uv_tcp_t>.owner(of: base, as: TCPStream.self) else { return }
            stream.didRead(nread)
        })
    }

    package func pauseReading() {
        guard isReading else { return }
        isReading = false
        if !isYielding { uv_read_stop(streamPointer) }
    }

    private func didRead(_ nread: Int) {
        if nread > 0 {
            onData?(UnsafeMutableRawBufferPointer(rebasing: loop.readBuffer[0..<nread]))
            if !loop.readTurns.spend(nread) { yieldTurn() }
        } else if nread == Int(UV_ENOBUFS.rawValue) {
            yieldTurn()
        } else if nread < 0 {
            pauseReading()
            let end = onEnd
            onEnd = nil
            end?(nread == Int(UV_EOF.rawValue) ? nil : UVError(Int32(nread)))
        }
    }

    /// Queues `parts` as one write. Returns false if the stream is closed.
    @discardableResult
    package func write(_ parts: UnsafeRawBufferPointer..., completion: ((UVError?) -> Void)? = nil) -> Bool {
        write(parts: parts, completion: completion)
    }

    @discardableResult
    package func write(_ bytes: [UInt8], completion: ((UVError?) -> Void)? = nil) -> Bool {
        bytes.withUnsafeBytes { write(parts: [$0], completion: completion) }
    }

    @discardableResult
    package func write(parts: [UnsafeRawBufferPointer], completion: ((UVError?) -> Void)? = nil) -> Bool {
        guard !isClosed else { return false }
        let total = parts.reduce(0) { $0 + $1.count }
        // One allocation holds the request and its bytes; freed in the callback.
        let headerSize = (MemoryLayout<uv_write_t>.size + 15) & ~15
        guard let memory = malloc(headerSize + max(total, 1)) else { return false }
        let request = memory.assumingMemoryBound(to: uv_write_t.self)
        let payload = memory.advanced(by: headerSize)
        var offset = 0
        for part in parts where part.count > 0 {
            payload.advanced(by: offset).copyMemory(from: part.baseAddress!, byteCount: part.count)
            offset += part.count
        }
        request.pointee.data = completion.map { Unmanaged.passRetained(WriteCompletion($0)).toOpaque() }
        var buf = uv_buf_init(payload.assumingMemoryBound(to: CChar.self), UInt32(total))
        let status = uv_write(request, streamPointer, &buf, 1, TCPStream.writeDone)
        if status < 0 {
            if let data = request.pointee.data { Unmanaged<WriteCompletion>.fromOpaque(data).release() }
            free(memory)
            return false
        }
        bytesSubmitted += total
        return true
    }

    /// A write's end: runs its completion, if any, and frees the request
    /// (allocated with the copied bytes behind it).
    private static let writeDone: uv_write_cb = { request, status in
        guard let request else { return }
        if let data = request.pointee.data {
            Unmanaged<WriteCompletion>.fromOpaque(data).takeRetainedValue()
                .callback(status < 0 ? UVError(status) : nil)
        }
        free(request)
    }

    /// Queues `head` (copied) and then `body`, which is not copied: the
    /// write holds it until the kernel has taken it. Returns false if the
    /// stream is closed.
    @discardableResult
    package func write(_ head: UnsafeRawBufferPointer, shared body: SharedBytes, completion: ((UVError?) -> Void)? = nil) -> Bool {
        guard !isClosed else { return false }
        let headerSize = (MemoryLayout<uv_write_t>.size + 15) & ~15
        guard let memory = malloc(headerSize + max(head.count, 1)) else { return false }
        let request = memory.assumingMemoryBound(to: uv_write_t.self)
        let payload = memory.advanced(by: headerSize)
        if let base = head.baseAddress { payload.copyMemory(from: base, byteCount: head.count) }
        request.pointee.data = Unmanaged.passRetained(WriteCompletion(completion ?? { _ in }, holding: body)).toOpaque()
        let status = body.withUnsafeBytes { bodyBytes in
            // libuv copies the buffer list into the request; the bytes stay
            // where they are, kept alive by the completion.
            var buffers = [uv_buf_init(payload.assumingMemoryBound(to: CChar.self), UInt32(head.count)),
                           uv_buf_init(UnsafeMutableRawPointer(mutating: bodyBytes.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                       UInt32(bodyBytes.count))]
            return uv_write(request, streamPointer, &buffers, 2, TCPStream.writeDone)
        }
        if status < 0 {
            if let data = request.pointee.data { Unmanaged<WriteCompletion>.fromOpaque(data).release() }
            free(memory)
            return false
        }
        bytesSubmitted += head.count + body.count
        return true
    }

    /// Bytes queued for writing that the kernel has not taken yet.
    package var pendingWriteBytes: Int {
        Int(uv_stream_get_write_queue_size(streamPointer))
    }

    /// True when bytes written have waited `timeoutMs` without the peer
    /// acknowledging a single one: it has stopped reading (its receive
    /// window stays shut) or is gone without a FIN, as opposed to a slow
    /// peer, which keeps taking some. Counts both libuv's queue and the
    /// kernel's send queue (SIOCOUTQ: sent but not acknowledged, or not
    /// sent yet), since a socket buffer of megabytes fills slowly with
    /// small frames. Called from a periodic sweep, so it is as precise as
    /// the sweep's interval; acknowledged bytes only ever grow (submitted
    /// minus still outstanding), so one number per sample is enough.
    package func writesStalled(nowMs: UInt64, timeoutMs: UInt64) -> Bool {
        var outstanding = pendingWriteBytes
        var fd: uv_os_fd_t = -1
        var unacknowledged: Int32 = 0
        if uv_fileno(uv.handle, &fd) == 0, ioctl(fd, UInt(TIOCOUTQ), &unacknowledged) == 0 {
            outstanding += Int(unacknowledged)
        }
        let acknowledged = bytesSubmitted - outstanding
        if outstanding == 0 || acknowledged != bytesAcknowledgedAtSample {
            bytesAcknowledgedAtSample = acknowledged
            writeProgressAtMs = nowMs
            return false
        }
        return nowMs &- writeProgressAtMs > timeoutMs
    }

    /// Closes after queued writes have been handed to the kernel, or after
    /// `timeoutMs` if the peer does not take them: a peer that stopped
    /// reading would otherwise keep the shutdown pending, and the stream
    /// and its queued bytes alive, for as long as its TCP connection lasts.
    ///
    /// The owner is done with the stream: its callbacks are let go (it may
    /// be gone before the stream is), and what the peer still sends is
    /// read and dropped, since closing with unread bytes would send a reset
    /// that can destroy the last answer before the peer has read it.
    package func closeAfterWrites(within timeoutMs: UInt64) {
        guard !isClosed, lingerTimer == nil else { return }
        onData = { _ in }
        onEnd = { _ in } // reading has stopped; the shutdown or the timer closes
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        if uv_shutdown(request, streamPointer, { request, _ in
            guard let request else { return }
            if let data = request.pointee.data {
                Unmanaged<TCPStream>.fromOpaque(data).takeRetainedValue().close()
            }
            request.deallocate()
        }) < 0 {
            Unmanaged<TCPStream>.fromOpaque(request.pointee.data!).release()
            request.deallocate()
            close()
            return
        }
        // The shutdown request holds the stream until then.
        let timer = LoopTimer(loop: loop)
        lingerTimer = timer
        timer.start(after: timeoutMs) { [weak self] in self?.close() }
    }

    /// Closes now; pending writes (and a pending shutdown) are cancelled.
    package func close() {
        guard !isClosed else { return }
        isClosed = true
        lingerTimer?.stop()
        lingerTimer = nil
        isReading = false
        onData = nil
        onEnd = nil
        uv.close()
    }

    package func setNoDelay(_ on: Bool) {
        uv_tcp_nodelay(uv.pointer, on ? 1 : 0)
    }

    /// The remote address as "ip:port" ("[ip]:port" for IPv6).
    package var peerAddress: String? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(uv.pointer, $0, &length) }
        }
        guard status == 0 else { return nil }
        return SocketAddress(storage)?.description
    }

    /// Connects to host:port (loopback tests, the load generator).
    package static func connect(loop: EventLoop, host: String, port: Int,
                               _ completion: @escaping (Result<TCPStream, UVError>) -> Void) {
        let stream = TCPStream(loop: loop)
        var address = sockaddr_in()
        if uv_ip4_addr(host, Int32(port), &address) < 0 {
            completion(.failure(UVError(Int32(UV_EINVAL.rawValue))))
            return
        }
        let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        let box = ConnectCompletion(stream: stream, callback: completion)
        request.pointee.data = Unmanaged.passRetained(box).toOpaque()
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { addr in
                uv_tcp_connect(request, stream.uv.pointer, addr) { request, status in
                    guard let request else { return }
                    let box = Unmanaged<ConnectCompletion>.fromOpaque(request.pointee.data!).takeRetainedValue()
                    request.deallocate()
                    if status < 0 {
                        box.stream.close()
                        box.callback(.failure(UVError(status)))
                    } else {
                        box.callback(.success(box.stream))
                    }
                }
            }
        }
        if status < 0 {
            Unmanaged<ConnectCompletion>.fromOpaque(request.pointee.data!).release()
            request.deallocate()
            stream.close()
            completion(.failure(UVError(status)))
        }
    }
}

private final class WriteCompletion {
    let callback: (UVError?) -> Void
    /// Bytes the write points into, kept until it completes.
    let held: SharedBytes?
    init(_ callback: @escaping (UVError?) -> Void, holding held: SharedBytes? = nil) {
        self.callback = callback
        self.held = held
    }
}

private final class ConnectCompletion {
    let stream: TCPStream
    let callback: (Result<TCPStream, UVError>) -> Void
    init(stream: TCPStream, callback: @escaping (Result<TCPStream, UVError>) -> Void) {
        self.stream = stream
        self.callback = callback
    }
}
