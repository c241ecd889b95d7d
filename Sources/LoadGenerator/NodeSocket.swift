import Glibc
import Reactor

/// A synthetic node's TCP connection: a non-blocking socket of its own,
/// watched by the loop (`SocketPoll`).
///
/// Not a `TCPStream`, because closing without losing anything needs what a
/// stream does not expose: how many bytes the kernel has taken, how many of
/// those the server's TCP has acknowledged (SIOCOUTQ), how far the server
/// has read (its advertised window, TCP_INFO), and a shutdown of the write
/// side that leaves reading on.
///
/// Writes go to the kernel at once; what it does not take waits in a queue,
/// in order, and goes as the socket becomes writable. Callbacks come from
/// the loop, never from inside `send` (a write error is reported on the
/// next turn).
final class NodeSocket {
    /// Bytes read, valid during the call only.
    var onData: ((UnsafeRawBufferPointer) -> Void)?
    /// The server ended the connection: nil at EOF, an error otherwise.
    /// Reading has stopped; called once.
    var onEnd: ((UVError?) -> Void)?
    /// The socket was writable: queued bytes went to the kernel, or
    /// `requestWritable()` was answered.
    var onWritable: (() -> Void)?

    private let loop: EventLoop
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var fd: Int32 = -1
    private var poll: SocketPoll?
    private var watched: SocketPoll.Events = []
    private var connectCompletion: ((UVError?) -> Void)?
    private var queue: [[UInt8]] = []
    /// Bytes of `queue[0]` already written.
    private var queueHead = 0
    /// Bytes waiting in the queue.
    private(set) var queuedBytes = 0
    /// Bytes given to `send` on this connection, and how many of them the
    /// kernel has taken.
    private(set) var bytesSubmitted: UInt64 = 0
    private(set) var bytesToKernel: UInt64 = 0
    private(set) var isReading = false
    private var writableRequested = false
    /// `shutdownWrites()` was called: nothing more may be sent; the FIN
    /// follows the queue.
    private(set) var writesShut = false
    private var finSent = false
    /// Why the connection broke, if it did; `writeFailure` when a write
    /// found out.
    private var broken: UVError?
    private(set) var writeFailure: UVError?
    private var failTimer: LoopTimer?
    private(set) var isClosed = false

    init(loop: EventLoop, readBuffer: UnsafeMutableRawBufferPointer) {
        self.loop = loop
        self.readBuffer = readBuffer
    }

    deinit { close() }

    // MARK: connecting

    /// Connects to an IPv4 address; `completion` gets nil once connected.
    /// It may be called before this returns when the socket cannot even be
    /// made (out of descriptors).
    func connect(ipv4 address: String, port: Int, _ completion: @escaping (UVError?) -> Void) {
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        guard inet_pton(AF_INET, address, &target.sin_addr) == 1 else { return completion(UVError(-EINVAL)) }
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return completion(UVError(-errno)) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let status = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if status < 0 && errno != EINPROGRESS { return failConnect(UVError(-errno), completion) }
        do {
            poll = try SocketPoll(loop: loop, fd: fd)
        } catch let error as UVError {
            return failConnect(error, completion)
        } catch {
            return failConnect(UVError(-EINVAL), completion)
        }
        // Connected or refused, the socket becomes writable (a refusal
        // also reports an error, which the poll passes as a status).
        connectCompletion = completion
        watch([.writable])
    }

    private func failConnect(_ error: UVError, _ completion: (UVError?) -> Void) {
        close()
        completion(error)
    }

    private func connectFinished(status: Int32) {
        guard let completion = connectCompletion else { return }
        connectCompletion = nil
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0 { error = errno }
        if error == 0 && status < 0 { error = -status }
        if error != 0 {
            close()
            completion(UVError(-error))
            return
        }
        watch([])
        completion(nil)
    }

    // MARK: reading

    /// Delivers what arrives to `onData` until EOF or an error (`onEnd`).
    func startReading() {
        guard !isClosed, !isReading else { return }
        isReading = true
        updateWatch()
    }

    private func readAvailable() {
        // At most 1 MiB per turn, so one chatty socket cannot hold the loop.
        var budget = 1 << 20
        while isReading, !isClosed, budget > 0 {
            let count = Glibc.read(fd, readBuffer.baseAddress, readBuffer.count)
            if count > 0 {
                budget -= count
                onData?(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]))
            } else if count == 0 {
                end(nil)
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return
            } else {
                end(UVError(-errno))
            }
        }
    }

    private func end(_ error: UVError?) {
        isReading = false
        updateWatch()
        let callback = onEnd
        onEnd = nil
        callback?(error)
    }

    // MARK: writing

    /// Whether `send` would take bytes now.
    var canSend: Bool { !isClosed && !writesShut && broken == nil && connectCompletion == nil && fd >= 0 }

    /// Writes `bytes` after what is queued: what the kernel takes now goes
    /// at once, the rest is copied into the queue. False (and nothing
    /// taken) when the socket cannot send; a write that fails midway
    /// returns true, and the error reaches `onEnd` on the next turn.
    @discardableResult
    func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard canSend else { return false }
        bytesSubmitted += UInt64(bytes.count)
        var offset = 0
        if queue.isEmpty, let base = bytes.baseAddress {
            while offset < bytes.count {
                let count = Glibc.send(fd, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if count > 0 {
                    offset += count
                    bytesToKernel += UInt64(count)
                } else if count < 0 && errno == EINTR {
                    continue
                } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    break
                } else {
                    failWriting(UVError(count < 0 ? -errno : -EPIPE))
                    return true
                }
            }
        }
        if offset < bytes.count {
            queue.append(Array(UnsafeRawBufferPointer(rebasing: bytes[offset...])))
            queuedBytes += bytes.count - offset
            updateWatch()
        }
        return true
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { send($0) }
    }

    /// Calls `onWritable` once the socket can take more (the next turn when
    /// it can already): how a node that writes as fast as it can gives the
    /// other nodes their turn.
    func requestWritable() {
        guard canSend, !writableRequested else { return }
        writableRequested = true
        updateWatch()
    }

    private func writeQueue() {
        while let first = queue.first {
            let count = first.withUnsafeBytes { chunk -> Int in
                guard let base = chunk.baseAddress else { return 0 }
                return Glibc.send(fd, base + queueHead, chunk.count - queueHead, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                bytesToKernel += UInt64(count)
                queuedBytes -= count
                queueHead += count
                if queueHead == first.count {
                    queue.removeFirst()
                    queueHead = 0
                }
            } else if count < 0 && errno == EINTR {
                continue
            } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                break
            } else {
                return failWriting(UVError(count < 0 ? -errno : -EPIPE))
            }
        }
        if queue.isEmpty && writesShut && !finSent { sendFIN() }
    }

    /// Sends nothing more: the FIN goes once the queue is written. Reading
    /// goes on, so that what the server still sends is taken (a socket
    /// closed with unread bytes answers with a reset, which throws away
    /// whatever the kernel has not delivered yet).
    func shutdownWrites() {
        guard !isClosed, !writesShut else { return }
        writesShut = true
        writableRequested = false
        if queue.isEmpty && broken == nil { sendFIN() }
        updateWatch()
    }

    private func sendFIN() {
        finSent = true
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    private func failWriting(_ error: UVError) {
        guard broken == nil else { return }
        broken = error
        writeFailure = error
        dropQueue()
        writableRequested = false
        updateWatch()
        let timer = LoopTimer(loop: loop)
        failTimer = timer
        timer.start(after: 0) { [weak self] in
            guard let self, !self.isClosed, self.onEnd != nil else { return }
            self.end(error)
        }
    }

    private func dropQueue() {
        queue.removeAll()
        queueHead = 0
        queuedBytes = 0
    }

    // MARK: what the server has

    /// Bytes the kernel holds that the server's TCP has not acknowledged
    /// (SIOCOUTQ, without the FIN); nil if the kernel does not say.
    var unacknowledgedBytes: UInt64? {
        guard fd >= 0, !isClosed else { return nil }
        var outstanding: Int32 = 0
        guard ioctl(fd, UInt(TIOCOUTQ), &outstanding) == 0 else { return nil }
        // The FIN takes a sequence number: SIOCOUTQ counts it until acknowledged.
        let bytes = UInt64(max(outstanding, 0))
        return finSent && bytes > 0 ? bytes - 1 : bytes
    }

    /// Bytes on this connection the server's TCP has acknowledged: the
    /// kernel's count minus what it still holds (nil if unknown).
    var bytesAcknowledged: UInt64? {
        unacknowledgedBytes.map { bytesToKernel - min($0, bytesToKernel) }
    }

    /// A number that grows while the server reads from this connection:
    /// the right edge of the window it advertises (bytes acknowledged plus
    /// the window, TCP_INFO, from Linux 5.4). Acknowledged bytes that the
    /// server leaves unread shrink its window by as much, so the edge moves
    /// only as the server reads. Bytes acknowledged when the kernel does
    /// not report the window (nil if neither is known).
    var readPosition: UInt64? {
        guard fd >= 0, !isClosed else { return nil }
        // struct tcp_info of linux/tcp.h: __u64 tcpi_bytes_acked at offset
        // 120, __u32 tcpi_snd_wnd at 228 (Glibc's copy of the struct
        // predates both, so the bytes are read by offset).
        var info = [UInt8](repeating: 0, count: 256)
        var length = socklen_t(info.count)
        let status = info.withUnsafeMutableBytes { getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, $0.baseAddress, &length) }
        guard status == 0, length >= 232 else { return bytesAcknowledged }
        return info.withUnsafeBytes { raw in
            UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 120, as: UInt64.self))
                + UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 228, as: UInt32.self)))
        }
    }

    // MARK: closing

    /// Closes now. Bytes still queued are dropped; what the kernel holds
    /// is still sent, unless bytes arrive later (then the kernel resets
    /// the connection). Reads what is waiting first, so that unread bytes
    /// do not make the close itself a reset.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        onData = nil
        onEnd = nil
        onWritable = nil
        connectCompletion = nil
        failTimer?.stop()
        failTimer = nil
        dropQueue()
        // libuv must stop watching a descriptor before it is closed.
        poll?.stop()
        poll = nil
        guard fd >= 0 else { return }
        var reads = 0
        while reads < 16, Glibc.read(fd, readBuffer.baseAddress, readBuffer.count) > 0 { reads += 1 }
        Glibc.close(fd)
        fd = -1
    }

    // MARK: the poll

    private func updateWatch() {
        guard !isClosed, connectCompletion == nil else { return }
        var events: SocketPoll.Events = []
        if isReading { events.insert(.readable) }
        if broken == nil && (!queue.isEmpty || writableRequested) { events.insert(.writable) }
        watch(events)
    }

    private func watch(_ events: SocketPoll.Events) {
        guard let poll, events != watched else { return }
        watched = events
        if events.isEmpty {
            poll.stop()
        } else {
            poll.start(events) { [weak self] status, ready in self?.ready(status: status, events: ready) }
        }
    }

    private func ready(status: Int32, events: SocketPoll.Events) {
        if connectCompletion != nil { return connectFinished(status: status) }
        if status < 0 {
            // libuv stops a poll that reports an error (EBADF for POLLERR):
            // the socket's own error says what happened.
            watched = []
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0 || error == 0 { error = -status }
            if broken == nil { broken = UVError(-error) }
            dropQueue()
            if isReading { end(UVError(-error)) }
            return
        }
        if events.contains(.writable) {
            writableRequested = false
            if !queue.isEmpty { writeQueue() }
            if !isClosed { onWritable?() }
            // After the callback: a node that asks again keeps the same
            // watch, and libuv is not told twice.
            updateWatch()
        }
        if !isClosed, events.contains(.readable) { readAvailable() }
    }
}
