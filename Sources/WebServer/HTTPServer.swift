import Logging
import Reactor

/// Accepts TCP connections, serves HTTP on them, and keeps the registry of
/// open HTTP and WebSocket connections with one sweep timer for all their
/// deadlines (heartbeats, silence, slow request heads, peers that stopped
/// reading): no timer per socket.
package final class HTTPServer {
    package struct Limits {
        package var clientTimeoutMs: UInt64
        package var heartbeatIntervalMs: UInt64
        package var maxBodyBytes: Int = 4096
        package var maxMessageBytes: Int
        package init(clientTimeoutMs: UInt64, heartbeatIntervalMs: UInt64, maxMessageBytes: Int) {
            self.clientTimeoutMs = clientTimeoutMs
            self.heartbeatIntervalMs = heartbeatIntervalMs
            self.maxMessageBytes = maxMessageBytes
        }
    }

    let loop: EventLoop
    let router: Router
    let limits: Limits
    private let logger: Logger
    private var listener: TCPListener?
    private var httpConnections: [ObjectIdentifier: HTTPConnection] = [:]
    package private(set) var webSockets: [UInt64: WebSocketConnection] = [:]
    private var nextSocketID: UInt64 = 1
    private let sweepTimer: LoopTimer
    /// Called for every answered request: (path, status).
    package var onResponse: ((String, Int) -> Void)?
    /// Called when a WebSocket ends: (close code).
    package var onWebSocketClosed: ((UInt16) -> Void)?

    package init(loop: EventLoop, router: Router, limits: Limits, logger: Logger) {
        self.loop = loop
        self.router = router
        self.limits = limits
        self.logger = logger
        sweepTimer = LoopTimer(loop: loop)
    }

    /// Starts listening; returns the bound port (useful with port 0).
    /// `reusePort`: one server per event loop shares the port (TCPListener).
    @discardableResult
    package func listen(host: String, port: Int, backlog: Int32, reusePort: Bool = false) throws -> Int {
        let listener = try TCPListener(loop: loop, host: host, port: port, backlog: backlog, reusePort: reusePort) { [unowned self] stream in
            let connection = HTTPConnection(stream: stream, server: self)
            self.httpConnections[ObjectIdentifier(connection)] = connection
            connection.start()
        }
        self.listener = listener
        let interval = max(100, min(limits.heartbeatIntervalMs, limits.clientTimeoutMs) / 4)
        sweepTimer.start(after: interval, repeat: interval) { [unowned self] in self.sweep() }
        return listener.port
    }

    package var openHTTPConnections: Int { httpConnections.count }

    /// Stops accepting new connections (shutdown's first step).
    /// Draining (shutdown): requests are still answered, so /readyz can say
    /// 503 to the orchestrator and load balancer, but no new WebSocket is
    /// opened; the listener closes when the drain is over.
    package private(set) var isDraining = false

    package func beginDraining() {
        isDraining = true
    }

    package func stopAccepting() {
        listener?.close()
        listener = nil
    }

    /// Starts the closing handshake on every WebSocket (1001 at shutdown)
    /// and closes idle HTTP connections.
    package func closeAll(code: UInt16, reason: String) {
        for socket in webSockets.values { socket.close(code: code, reason: reason) }
        for connection in httpConnections.values where connection.isIdle { connection.close() }
    }

    /// Stops the sweep timer so the loop can exit once sockets are gone.
    package func stopTimers() {
        sweepTimer.stop()
    }

    func record(route: String, status: Int) {
        onResponse?(route, status)
    }

    func connectionClosed(_ connection: HTTPConnection) {
        httpConnections[ObjectIdentifier(connection)] = nil
    }

    func adoptWebSocket(stream: TCPStream, peerAddress: String, initial: [UInt8],
                        configure: (WebSocketConnection) -> Void) {
        let socket = WebSocketConnection(id: nextSocketID, stream: stream, loop: loop,
                                         peerAddress: peerAddress, maxMessageBytes: limits.maxMessageBytes,
                                         lingerMs: limits.clientTimeoutMs)
        nextSocketID += 1
        webSockets[socket.id] = socket
        socket.onClosed = { [unowned self] socket in
            self.webSockets[socket.id] = nil
            self.onWebSocketClosed?(socket.closeCodeForMetrics)
        }
        configure(socket)
        socket.start(initial: initial)
    }

    /// A peer that has taken none of the bytes queued for it within the
    /// client timeout has stopped reading (or is gone without a FIN): it is
    /// dropped at once, since a close frame or a graceful shutdown would
    /// wait behind the bytes it does not take.
    private func sweep() {
        let now = loop.nowMilliseconds
        let timeout = limits.clientTimeoutMs
        for connection in httpConnections.values {
            if connection.isIdle && now &- connection.lastActivityMs > timeout {
                logger.debug("closing silent HTTP connection", metadata: ["peer": "\(connection.peerAddress)"])
                connection.close()
            } else if connection.hasStalledWrites(nowMs: now, timeoutMs: timeout) {
                logger.debug("closing HTTP connection that stopped reading", metadata: ["peer": "\(connection.peerAddress)"])
                connection.close()
            }
        }
        for socket in webSockets.values where socket.state == .open {
            if socket.hasStalledWrites(nowMs: now, timeoutMs: timeout) {
                logger.debug("dropping WebSocket that stopped reading", metadata: ["peer": "\(socket.peerAddress)"])
                socket.abort(code: 1006)
            } else if !socket.isPausedByServer && now &- socket.lastReceivedMs > timeout {
                logger.debug("closing silent WebSocket", metadata: ["peer": "\(socket.peerAddress)"])
                socket.abort(code: 1001)
            } else if now &- socket.lastPingMs >= limits.heartbeatIntervalMs {
                socket.sendPing()
            }
        }
    }
}
