import Logging
import Reactor

/// A fixed number of connections to one database. A connection that cannot
/// connect, or breaks, is connected again after a backoff of 100 ms that
/// doubles up to `maxBackoffMs` (10 s by default) and starts over once it
/// is ready.
///
/// Callers send through `trySend`, which never queues: work that finds no
/// room stays with the caller (StatementQueue) until `onReady` or
/// `onCapacity`.
package final class PGPool {
    /// One connection and its reconnect schedule.
    private final class Member {
        let connection: PGConnection
        let retryTimer: LoopTimer
        var backoffMs: UInt64 = 0
        /// It failed or broke since it was last ready.
        var recovering = false

        init(_ connection: PGConnection, retryTimer: LoopTimer) {
            self.connection = connection
            self.retryTimer = retryTimer
        }
    }

    private static let firstBackoffMs: UInt64 = 100
    private let maxBackoffMs: UInt64
    private let connectTimeoutMs: UInt64

    private let conninfo: String
    private let size: Int
    private let pipelined: Bool
    package let name: String
    private let logger: Logger
    private var members: [Member] = []
    private var closed = false
    /// Successful connects after a failed attempt or a broken connection.
    package private(set) var reconnectCount = 0
    /// A connection became ready (at start or again after a failure).
    package var onReady: (() -> Void)?
    /// A statement completed, so some connection has room again.
    package var onCapacity: (() -> Void)?
    // Declared last so that the handles above go before the loop can.
    private let loop: EventLoop

    package init(loop: EventLoop, conninfo: String, size: Int, pipelined: Bool, name: String, logger: Logger,
                 maxBackoffMs: UInt64 = 10_000, connectTimeoutMs: UInt64 = 10_000) {
        self.loop = loop
        self.maxBackoffMs = maxBackoffMs
        self.connectTimeoutMs = connectTimeoutMs
        self.conninfo = conninfo
        self.size = size
        self.pipelined = pipelined
        self.name = name
        self.logger = logger
    }

    /// Opens the connections; a second call does nothing.
    package func start() {
        guard members.isEmpty, !closed else { return }
        for index in 0..<size {
            let connection = PGConnection(loop: loop, conninfo: conninfo, name: "\(name)-\(index)", logger: logger)
            connection.pipelined = pipelined
            connection.connectTimeoutMs = connectTimeoutMs
            let member = Member(connection, retryTimer: LoopTimer(loop: loop))
            connection.onDisconnect = { [weak self, unowned member] error in
                self?.retry(member, after: error, reason: "PostgreSQL connection lost; reconnecting")
            }
            members.append(member)
            connect(member)
        }
    }

    /// Closes every connection (their outstanding work completes with
    /// `.closed`) and cancels pending reconnects.
    package func close() {
        guard !closed else { return }
        closed = true
        for member in members {
            member.retryTimer.stop()
            member.connection.close()
        }
    }

    package var readyCount: Int {
        members.reduce(0) { $0 + ($1.connection.state == .ready ? 1 : 0) }
    }

    /// Connections with statements in flight.
    package var busyCount: Int {
        members.reduce(0) { $0 + ($1.connection.inFlight > 0 ? 1 : 0) }
    }

    /// Sends on the ready connection with the fewest statements in flight,
    /// if it has fewer than `maxInFlight`; returns false, having sent
    /// nothing, otherwise.
    package func trySend(_ sql: String, _ parameters: [PGParameter], preparedAs name: String? = nil, maxInFlight: Int,
                        _ completion: @escaping (Result<PGRows, PGError>) -> Void) -> Bool {
        var chosen: PGConnection?
        for member in members where member.connection.state == .ready {
            if member.connection.inFlight < (chosen?.inFlight ?? maxInFlight) { chosen = member.connection }
        }
        guard let chosen else { return false }
        chosen.query(sql, parameters, preparedAs: name) { [weak self] result in
            completion(result)
            if let self, !self.closed { self.onCapacity?() }
        }
        return true
    }

    private func connect(_ member: Member) {
        guard !closed, member.connection.state == .idle else { return }
        member.connection.connect { [weak self, unowned member] error in
            guard let self, !self.closed else { return }
            if let error {
                return self.retry(member, after: error, reason: "cannot connect to PostgreSQL; retrying")
            }
            if member.recovering {
                member.recovering = false
                self.reconnectCount += 1
                self.logger.info("reconnected to PostgreSQL", metadata: ["connection": "\(member.connection.name)"])
            }
            member.backoffMs = 0
            self.onReady?()
        }
    }

    private func retry(_ member: Member, after error: PGError, reason: Logger.Message) {
        guard !closed else { return }
        member.recovering = true
        // A multi-host conninfo: the next attempt starts from the next host,
        // so one that swallows connections cannot hold every attempt.
        member.connection.hostRotation += 1
        member.backoffMs = min(max(member.backoffMs * 2, PGPool.firstBackoffMs), maxBackoffMs)
        logger.warning(reason, metadata: [
            "connection": "\(member.connection.name)", "error": "\(error)", "retry_in_ms": "\(member.backoffMs)",
        ])
        member.retryTimer.start(after: member.backoffMs) { [weak self, unowned member] in
            self?.connect(member)
        }
    }
}
