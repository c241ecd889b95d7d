import Reactor
/// One HTTP/1.1 connection: parses requests, answers them strictly in
/// order (pipelining), keeps the connection alive or closes it, and hands
/// the stream over on a WebSocket upgrade.
final class HTTPConnection {
    private let stream: TCPStream
    private unowned let server: HTTPServer
    private let parser: HTTPRequestParser
    /// Bytes that arrived while a request was being answered.
    private var pending: [UInt8] = []
    private var busy = false
    /// Answers not yet taken by the peer passed `maxPendingBytes`: the next
    /// requests wait (and reading stops) until they have gone out, so a
    /// client that pipelines requests and never reads the answers cannot
    /// grow the write queue.
    private var waitingForWrites = false
    private var dispatching = false
    private var closed = false
    let peerAddress: String
    /// Loop time of the accept or the last response; a connection that
    /// sends no complete request head within the client timeout after it
    /// is closed (slow-loris and idle keep-alive alike).
    private(set) var lastActivityMs: UInt64

    /// Above this many buffered bytes (requests waiting, or answers the peer
    /// has not taken), stop reading until they are out.
    private static let maxPendingBytes = 64 * 1024

    init(stream: TCPStream, server: HTTPServer) {
        self.stream = stream
        self.server = server
        self.parser = HTTPRequestParser(maxBodyBytes: server.limits.maxBodyBytes)
        self.peerAddress = stream.peerAddress ?? "unknown"
        self.lastActivityMs = server.loop.nowMilliseconds
    }

    func start() {
        stream.startReading(onData: { [unowned self] bytes in
            self.received(UnsafeRawBufferPointer(bytes))
        }, onEnd: { [unowned self] _ in
            self.close()
        })
    }

    var isIdle: Bool { !busy && !waitingForWrites }

    func hasStalledWrites(nowMs: UInt64, timeoutMs: UInt64) -> Bool {
        stream.writesStalled(nowMs: nowMs, timeoutMs: timeoutMs)
    }

    func close() {
        guard !closed else { return }
        closed = true
        stream.close()
        server.connectionClosed(self)
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        if busy || waitingForWrites || !pending.isEmpty {
            pending.append(contentsOf: bytes)
            if pending.count > HTTPConnection.maxPendingBytes { stream.pauseReading() }
            return
        }
        process(bytes)
    }

    /// Parses and dispatches requests until the bytes run out or a request
    /// is being answered asynchronously; keeps what is left in `pending`.
    private func process(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count, !busy, !waitingForWrites, !closed {
            let (consumed, outcome) = parser.feed(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset += consumed
            switch outcome {
            case nil:
                if consumed == 0 { offset = bytes.count }
            case .failure(let status, let message)?:
                server.record(route: "invalid", status: status)
                write(.error(status, message), keepAlive: false, headOnly: false)
                return
            case .request(let request)?:
                dispatch(request, rest: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                if closed { return }
            }
        }
        if offset < bytes.count, !closed {
            pending.append(contentsOf: bytes[offset...])
        }
    }

    private func dispatch(_ request: HTTPRequest, rest: UnsafeRawBufferPointer) {
        busy = true
        switch server.router.match(request) {
        case .notFound:
            finish(request, .error(404, "no route for \(request.path)"))
        case .methodNotAllowed(let allowed):
            finish(request, .error(405, "method \(request.method) not allowed on \(request.path)",
                                   headers: [("Allow", allowed.joined(separator: ", "))]))
        case .found(.http(let handler), let bound):
            dispatching = true
            handler(bound) { [weak self] response in self?.finish(bound, response) }
            dispatching = false
        case .found(.webSocket(let handler), let bound):
            upgrade(bound, handler: handler, rest: rest)
        }
    }

    private func finish(_ request: HTTPRequest, _ response: HTTPResponse) {
        guard busy, !closed else { return }
        busy = false
        server.record(route: request.path, status: response.status)
        write(response, keepAlive: request.keepAlive, headOnly: request.method == "HEAD")
        lastActivityMs = server.loop.nowMilliseconds
        if !dispatching { drainPending() }
    }

    private func drainPending() {
        guard !pending.isEmpty, !busy, !waitingForWrites, !closed else { return }
        let bytes = pending
        pending = []
        stream.resumeReading()
        bytes.withUnsafeBytes { process($0) }
    }

    private func write(_ response: HTTPResponse, keepAlive: Bool, headOnly: Bool) {
        let head = response.head(keepAlive: keepAlive)
        head.withUnsafeBytes { headBytes in
            if let shared = response.sharedBody, !headOnly {
                _ = stream.write(headBytes, shared: shared, completion: { [weak self] _ in self?.responseWritten() })
                return
            }
            response.body.withUnsafeBytes { body in
                _ = stream.write(headBytes, headOnly ? UnsafeRawBufferPointer(start: nil, count: 0) : body,
                                 completion: { [weak self] _ in self?.responseWritten() })
            }
        }
        if !keepAlive {
            closed = true
            stream.closeAfterWrites(within: server.limits.clientTimeoutMs)
            server.connectionClosed(self)
        } else if stream.pendingWriteBytes > HTTPConnection.maxPendingBytes {
            waitingForWrites = true
            stream.pauseReading()
        }
    }

    /// Writes complete in order: when this answer is out, so is every
    /// earlier one.
    private func responseWritten() {
        guard waitingForWrites, !closed, stream.pendingWriteBytes <= HTTPConnection.maxPendingBytes else { return }
        waitingForWrites = false
        lastActivityMs = server.loop.nowMilliseconds
        if pending.isEmpty {
            stream.resumeReading()
        } else {
            drainPending()
        }
    }

    // MARK: WebSocket upgrade

    private func upgrade(_ request: HTTPRequest, handler: WebSocketUpgradeHandler, rest: UnsafeRawBufferPointer) {
        if server.isDraining {
            var final = request
            final.keepAlive = false
            return finish(final, .error(503, "server shutting down; connect again (to another instance, or after the restart)"))
        }
        let accept: String
        switch WebSocketHandshake.accept(request) {
        case .failure(let refusal):
            finish(request, refusal.response)
            return
        case .success(let key):
            accept = key
        }
        // Frames may already follow the request; they belong to the socket.
        pending.append(contentsOf: rest)
        stream.pauseReading()
        let decision = WebSocketUpgradeDecision(
            accept: { [weak self] configure in
                guard let self, !self.closed else { return false }
                self.server.record(route: request.path, status: 101)
                self.write(WebSocketHandshake.switchingProtocols(accept: accept), keepAlive: true, headOnly: false)
                self.closed = true
                self.server.connectionClosed(self)
                self.server.adoptWebSocket(stream: self.stream, peerAddress: self.peerAddress,
                                           initial: self.pending, configure: configure)
                return true
            },
            reject: { [weak self] response in
                guard let self else { return }
                var final = request
                final.keepAlive = false
                self.finish(final, response)
            })
        handler(request, peerAddress, decision)
    }
}

/// The answer to a WebSocket upgrade request: exactly one of `accept` or
/// `reject`, now or later (ingestion first creates the connection's row).
package final class WebSocketUpgradeDecision {
    private var acceptAction: ((@escaping (WebSocketConnection) -> Void) -> Bool)?
    private var rejectAction: ((HTTPResponse) -> Void)?

    init(accept: @escaping (@escaping (WebSocketConnection) -> Void) -> Bool,
         reject: @escaping (HTTPResponse) -> Void) {
        acceptAction = accept
        rejectAction = reject
    }

    /// Sends 101 and starts the WebSocket; `configure` sets its delegate
    /// before any frame is read. Returns false (and `configure` is never
    /// called) when the client went away while the decision was pending.
    @discardableResult
    package func accept(_ configure: @escaping (WebSocketConnection) -> Void) -> Bool {
        let action = acceptAction
        acceptAction = nil
        rejectAction = nil
        return action?(configure) ?? false
    }

    package func reject(_ response: HTTPResponse) {
        let action = rejectAction
        acceptAction = nil
        rejectAction = nil
        action?(response)
    }
}

package typealias WebSocketUpgradeHandler = (_ request: HTTPRequest, _ peerAddress: String, _ decision: WebSocketUpgradeDecision) -> Void
