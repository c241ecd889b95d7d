import CLibPQ
import Foundation
import Logging
import Reactor

/// One libpq connection on the event loop: a non-blocking connect, then
/// statements sent without waiting and results read as they arrive.
///
/// In pipeline mode every statement is followed by its own sync point, so
/// each runs in its own implicit transaction, a failing one affects no
/// other, and many may be in flight. Without pipeline mode statements are
/// queued and go one at a time (migrations need multi-statement simple
/// queries, which pipeline mode forbids).
///
/// Every completion is called exactly once, always from a loop callback or
/// from `close()`, never before the call that took it returns.
package final class PGConnection {
    package enum State { case idle, connecting, ready, closed }
    package typealias Completion = (Result<PGRows, PGError>) -> Void

    private enum Statement {
        /// SQL, its parameters, and the name to prepare it under (nil: sent
        /// unprepared, parsed and planned anew every time).
        case extended(String, [PGParameter], preparedAs: String?)
        case simple(String)
    }

    package let name: String
    package private(set) var state: State = .idle
    /// Enter pipeline mode once connected; read at each `connect`.
    package var pipelined = false
    package var connectTimeoutMs: UInt64 = 10_000
    /// With several hosts in the conninfo, the next `connect` tries them
    /// starting from this one (modulo their number); read at each
    /// `connect`. libpq keeps to the order given, and bounds nothing in
    /// non-blocking mode: a first host that swallows connections would use
    /// up every attempt's `connectTimeoutMs` without the others being tried.
    package var hostRotation = 0
    /// Called once when a ready connection breaks, after every statement it
    /// held has completed with a `.connection` error. Not after `close()`.
    package var onDisconnect: ((PGError) -> Void)?

    private let conninfo: String
    private let logger: Logger
    private var connection: OpaquePointer?
    private var poll: SocketPoll?
    /// libpq holds bytes the socket did not take yet: watch writability too.
    private var writePending = false
    private var connectCompletion: ((PGError?) -> Void)?
    private let connectTimer: LoopTimer
    private var results = PGPendingResults()
    /// Non-pipeline mode: statements waiting for the one in flight.
    private var waiting: [(Statement, Completion)] = []
    /// Failures found while the caller was still inside `query`, delivered
    /// from the loop so that no caller is re-entered.
    private var rejected: [(Completion, PGError)] = []
    /// A break found while the caller was still inside `query`.
    private var pendingBreak: PGError?
    /// Names this session has prepared (or has a prepare in flight for);
    /// PostgreSQL forgets them with the session, so does `teardown`.
    private var preparedNames: Set<String> = []
    private let deferTimer: LoopTimer
    // Declared last so that the handles above go before the loop can.
    private let loop: EventLoop

    package init(loop: EventLoop, conninfo: String, name: String, logger: Logger) {
        self.loop = loop
        self.conninfo = conninfo
        self.name = name
        self.logger = logger
        connectTimer = LoopTimer(loop: loop)
        deferTimer = LoopTimer(loop: loop)
    }

    deinit {
        // Work still outstanding learns that it will never complete.
        close()
    }

    /// Statements sent and not yet completed, plus those queued.
    package var inFlight: Int { results.count + waiting.count + rejected.count }

    // MARK: Connecting

    /// Connects without blocking (PQconnectStartParams, then PQconnectPoll
    /// whenever the socket is ready), within `connectTimeoutMs`. Completes
    /// with nil once ready, or a `.connection` error; only from `.idle`.
    package func connect(_ completion: @escaping (PGError?) -> Void) {
        guard state == .idle else {
            let error = PGError(kind: state == .closed ? .closed : .connection, sqlState: nil,
                                message: "connection \(name): connect called while \(state)")
            LoopTimer.once(on: loop, after: 0) { completion(error) }
            return
        }
        state = .connecting
        connectCompletion = completion
        results.pipelined = pipelined
        connectTimer.start(after: connectTimeoutMs) { [weak self] in
            guard let self else { return }
            self.connectFailed("timed out after \(self.connectTimeoutMs) ms")
        }
        // libpq would look host names up with a blocking call inside
        // PQconnectPoll: look them up on libuv's thread pool first.
        guard let hosts = ConninfoHosts(conninfo: conninfo)?.rotated(by: hostRotation) else {
            return beginConnecting(hosts: nil)
        }
        let names = hosts.namesToResolve
        guard !names.isEmpty else { return beginConnecting(hosts: hosts) }
        var addresses: [String: [String]] = [:]
        var failures: [String] = []
        for name in names {
            HostResolver.resolve(loop: loop, host: name) { [weak self] result in
                guard let self, self.state == .connecting, self.connection == nil else { return }
                switch result {
                case .success(let found): addresses[name] = found
                case .failure(let error): failures.append("cannot resolve \(name): \(error)")
                }
                guard addresses.count + failures.count == names.count else { return }
                if addresses.isEmpty {
                    self.connectFailed(failures.joined(separator: "; "))
                } else {
                    self.beginConnecting(hosts: hosts.resolved(addresses))
                }
            }
        }
    }

    /// libpq tries the hosts' addresses in turn, as it would have.
    private func beginConnecting(hosts: ConninfoHosts?) {
        guard let connection = startConnecting(hosts: hosts) else {
            failConnectingSoon("cannot start connecting: invalid connection string or out of memory")
            return
        }
        self.connection = connection
        PQsetNoticeReceiver(connection, PGConnection.noticeReceiver, Unmanaged.passUnretained(self).toOpaque())
        // libpq's first step waits for the socket to become writable.
        advanceConnecting(PGRES_POLLING_WRITING)
    }

    /// The conninfo (URL or key=value) expanded by libpq, followed by what
    /// this code relies on: UTF-8 text (PGRows decodes UTF-8) and a name
    /// in pg_stat_activity unless the conninfo sets one.
    private func startConnecting(hosts: ConninfoHosts?) -> OpaquePointer? {
        var keywords = ["dbname", "client_encoding", "fallback_application_name"]
        var values = [conninfo, "UTF8", "tetcore-analytics"]
        // Later keywords override what the expanded conninfo said.
        for (keyword, value) in hosts?.keywords ?? [] {
            keywords.append(keyword)
            values.append(value)
        }
        let connection = withCStringArray(keywords) { keywords in
            withCStringArray(values) { values in PQconnectStartParams(keywords, values, 1) }
        }
        if let connection, PQstatus(connection) == CONNECTION_BAD {
            // Its message may quote the conninfo, password and all: not logged.
            PQfinish(connection)
            return nil
        }
        return connection
    }

    private func advanceConnecting(_ status: PostgresPollingStatusType) {
        guard let connection else { return }
        switch status {
        case PGRES_POLLING_OK:
            connected(connection)
        case PGRES_POLLING_FAILED:
            connectFailed(PGError.connectionMessage(connection))
        default:
            guard watchSocket(of: connection) else { return }
            poll?.start(status == PGRES_POLLING_READING ? .readable : .writable) { [weak self] _, _ in
                self?.pollConnecting()
            }
        }
    }

    private func pollConnecting() {
        guard state == .connecting, let connection else { return }
        // libpq may close this socket and open another (the next address):
        // libuv must not be watching a descriptor when it is closed.
        poll?.stop()
        advanceConnecting(PQconnectPoll(connection))
    }

    /// Points `poll` at the connection's current socket; false (and the
    /// attempt failing) if libuv cannot watch it.
    private func watchSocket(of connection: OpaquePointer) -> Bool {
        let fd = PQsocket(connection)
        if poll?.fd == fd { return true }
        poll = nil
        do {
            poll = try SocketPoll(loop: loop, fd: fd)
            return true
        } catch {
            failConnectingSoon("cannot watch the connection's socket: \(error)")
            return false
        }
    }

    private func connected(_ connection: OpaquePointer) {
        connectTimer.stop()
        guard PQsetnonblocking(connection, 1) == 0 else {
            return connectFailed("cannot make the connection non-blocking: " + PGError.connectionMessage(connection))
        }
        if results.pipelined && PQenterPipelineMode(connection) != 1 {
            return connectFailed("cannot enter pipeline mode: " + PGError.connectionMessage(connection))
        }
        guard watchSocket(of: connection) else { return }
        state = .ready
        watchReady()
        logger.debug("connected to PostgreSQL",
                     metadata: ["connection": "\(name)", "backend_pid": "\(PQbackendPID(connection))"])
        let completion = connectCompletion
        connectCompletion = nil
        completion?(nil)
    }

    private func connectFailed(_ message: String) {
        guard state == .connecting else { return }
        teardown()
        state = .idle
        let completion = connectCompletion
        connectCompletion = nil
        completion?(PGError(kind: .connection, sqlState: nil, message: message))
    }

    /// Fails the attempt from the loop, not inside `connect`.
    private func failConnectingSoon(_ message: String) {
        connectTimer.start(after: 0) { [weak self] in self?.connectFailed(message) }
    }

    // MARK: Sending

    /// One statement with parameters (extended protocol); results in text.
    ///
    /// With `preparedAs`, in pipeline mode, the session prepares the SQL
    /// under that name the first time (its own pipeline segment) and from
    /// then on only executes it: PostgreSQL parses it once, and plans it
    /// once it settles on a generic plan. Every use of a name must carry
    /// the same SQL and parameter types. A prepare that fails is tried
    /// again at the next use; the statement behind it then fails with
    /// PostgreSQL's "prepared statement does not exist" error.
    /// Without pipeline mode the statement goes unprepared.
    package func query(_ sql: String, _ parameters: [PGParameter] = [], preparedAs name: String? = nil,
                       _ completion: @escaping Completion) {
        submit(.extended(sql, parameters, preparedAs: name), completion)
    }

    /// Several statements in one string (simple query protocol), run as one
    /// implicit transaction unless they say otherwise; the result is the
    /// last statement's. Not available in pipeline mode.
    package func simpleQuery(_ sql: String, _ completion: @escaping Completion) {
        submit(.simple(sql), completion)
    }

    private func submit(_ statement: Statement, _ completion: @escaping Completion) {
        guard state == .ready, pendingBreak == nil else {
            return reject(completion, PGError(kind: state == .closed ? .closed : .connection, sqlState: nil,
                                              message: "connection \(name) is not ready"))
        }
        if case .simple = statement, results.pipelined {
            return reject(completion, PGError(kind: .query, sqlState: nil,
                                              message: "simple queries need a connection without pipeline mode"))
        }
        if !results.pipelined && (results.count > 0 || !waiting.isEmpty) {
            waiting.append((statement, completion))
            return
        }
        send(statement, completion)
    }

    private func send(_ statement: Statement, _ completion: @escaping Completion) {
        guard let connection else {
            let error = PGError(kind: .connection, sqlState: nil, message: "connection \(name) is not ready")
            return reject(completion, error)
        }
        let sent: Bool
        switch statement {
        case .simple(let sql):
            sent = PQsendQuery(connection, sql) == 1
        case .extended(let sql, let parameters, let name):
            let arrays: PGParameterArrays
            do {
                arrays = try PGParameterArrays(parameters)
            } catch {
                return reject(completion, error)
            }
            if let name, results.pipelined {
                guard prepareOnce(name, sql, arrays, on: connection, before: completion) else { return }
                sent = arrays.withValues { values in
                    PQsendQueryPrepared(connection, name, arrays.count, values, arrays.lengths, arrays.formats,
                                        0 /* text results */) == 1
                }
            } else {
                sent = arrays.withValues { values in
                    PQsendQueryParams(connection, sql, arrays.count, arrays.types, values, arrays.lengths,
                                      arrays.formats, 0 /* text results */) == 1
                }
            }
        }
        guard sent else { return refused(completion, by: connection) }
        endSegment(on: connection, completion)
    }

    /// Sends the prepare of `name` as its own pipeline segment unless this
    /// session has it already; false if libpq refused (`completion`, the
    /// statement's, then has its error).
    private func prepareOnce(_ name: String, _ sql: String, _ arrays: PGParameterArrays, on connection: OpaquePointer,
                             before completion: @escaping Completion) -> Bool {
        guard !preparedNames.contains(name) else { return true }
        guard PQsendPrepare(connection, name, sql, arrays.count, arrays.types) == 1 else {
            refused(completion, by: connection)
            return false
        }
        preparedNames.insert(name)
        endSegment(on: connection) { [weak self] result in
            guard case .failure(let error) = result, let self else { return }
            self.preparedNames.remove(name)
            if error.kind == .query {
                self.logger.warning("cannot prepare a statement",
                                    metadata: ["connection": "\(self.name)", "statement": "\(name)", "error": "\(error)"])
            }
        }
        return true
    }

    /// libpq refused before sending: a statement it cannot carry, or a
    /// connection it already knows is gone.
    private func refused(_ completion: @escaping Completion, by connection: OpaquePointer) {
        let message = PGError.connectionMessage(connection)
        guard PQstatus(connection) == CONNECTION_BAD else {
            return reject(completion, PGError(kind: .query, sqlState: nil, message: message))
        }
        reject(completion, PGError(kind: .connection, sqlState: nil, message: message))
        breakSoon(PGError(kind: .connection, sqlState: nil, message: message))
    }

    /// Records what the statement just sent owes, closes its pipeline
    /// segment, and writes it out.
    private func endSegment(on connection: OpaquePointer, _ completion: @escaping Completion) {
        results.append(completion)
        // Without its sync point no later result could be matched up.
        if results.pipelined && PQpipelineSync(connection) != 1 {
            return breakSoon(PGError(kind: .connection, sqlState: nil, message: PGError.connectionMessage(connection)))
        }
        flush()
    }

    /// Non-pipeline mode: sends the next waiting statement once nothing is
    /// in flight.
    private func sendWaiting() {
        while state == .ready, pendingBreak == nil, !results.pipelined, results.count == 0, !waiting.isEmpty {
            let (statement, completion) = waiting.removeFirst()
            send(statement, completion)
        }
    }

    /// Writes what libpq buffered; watches writability until it is out.
    private func flush() {
        guard let connection else { return }
        switch PQflush(connection) {
        case 0:
            if writePending {
                writePending = false
                watchReady()
            }
        case 1:
            if !writePending {
                writePending = true
                watchReady()
            }
        default:
            breakSoon(PGError(kind: .connection, sqlState: nil, message: PGError.connectionMessage(connection)))
        }
    }

    private func watchReady() {
        poll?.start(writePending ? [.readable, .writable] : .readable) { [weak self] status, events in
            self?.socketReady(status: status, events: events)
        }
    }

    private func socketReady(status: Int32, events: SocketPoll.Events) {
        guard state == .ready else { return }
        if status < 0 {
            return broken(PGError(kind: .connection, sqlState: nil, message: "socket error: \(UVError(status))"))
        }
        // Reading also flushes: libpq asks for both after a partial write.
        if events.contains(.readable) { readResults() } else { flush() }
    }

    // MARK: Receiving

    private func readResults() {
        guard let connection else { return }
        guard PQconsumeInput(connection) == 1 else {
            return broken(PGError(kind: .connection, sqlState: nil, message: PGError.connectionMessage(connection)))
        }
        // Ask for results only while some are owed and libpq has them whole:
        // PQgetResult would block otherwise. A completion may close the
        // connection, so its state is checked again every time.
        while state == .ready, let connection = self.connection, results.count > 0, PQisBusy(connection) == 0 {
            guard let event = nextEvent(connection) else { return }
            if let finished = results.receive(event) {
                sendWaiting()
                finished.completion(finished.outcome)
            }
        }
        guard state == .ready, let connection = self.connection else { return }
        // Nothing owed: what came is parsed all the same (PQconsumeInput
        // only buffers it), so that a FATAL sent to an idle session reaches
        // the notice receiver, which ends the session.
        if results.count == 0 { _ = PQisBusy(connection) }
        if PQstatus(connection) == CONNECTION_BAD {
            return broken(PGError(kind: .connection, sqlState: nil, message: PGError.connectionMessage(connection)))
        }
        flush()
    }

    /// The next result as an event; nil if it ended the session (the
    /// connection has then been torn down and everything failed).
    private func nextEvent(_ connection: OpaquePointer) -> PGPendingResults.Event? {
        guard let result = PQgetResult(connection) else { return .end }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return .rows(PGRows(result))
        case PGRES_PIPELINE_SYNC:
            return .sync
        case PGRES_PIPELINE_ABORTED:
            return .error(PGError(kind: .query, sqlState: nil,
                                  message: "not run: an earlier statement of its pipeline segment failed"))
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // The session is now in COPY mode, which nothing here speaks.
            broken(PGError(kind: .connection, sqlState: nil, message: "COPY is not supported on this connection"))
            return nil
        default:
            // FATAL (e.g. pg_terminate_backend, server shutdown) or a lost
            // socket: the session is over, whatever the statement did.
            if PGError.endsSession(result) || PQstatus(connection) == CONNECTION_BAD {
                broken(PGError(kind: .connection, result: result))
                return nil
            }
            return .error(PGError(kind: .query, result: result))
        }
    }

    // MARK: Failing and closing

    /// Closes the connection; outstanding work completes with `.closed`
    /// before this returns, and nothing is called back afterwards.
    package func close() {
        guard state != .closed else { return }
        let outstanding = takeOutstanding()
        let connectCompletion = self.connectCompletion
        self.connectCompletion = nil
        teardown()
        state = .closed
        let error = PGError(kind: .closed, sqlState: nil, message: "connection \(name) was closed")
        connectCompletion?(error)
        deliver(outstanding, error)
    }

    private func broken(_ error: PGError) {
        guard state == .ready else { return }
        let outstanding = takeOutstanding()
        teardown()
        state = .idle
        logger.debug("PostgreSQL connection lost", metadata: [
            "connection": "\(name)", "error": "\(error)", "statements_outstanding": "\(outstanding.count)",
        ])
        deliver(outstanding, error)
        // A completion may have closed the connection meanwhile.
        if state != .closed { onDisconnect?(error) }
    }

    private func reject(_ completion: @escaping Completion, _ error: PGError) {
        rejected.append((completion, error))
        deferTimer.start(after: 0) { [weak self] in self?.runDeferred() }
    }

    private func breakSoon(_ error: PGError) {
        guard pendingBreak == nil else { return }
        pendingBreak = error
        deferTimer.start(after: 0) { [weak self] in self?.runDeferred() }
    }

    private func runDeferred() {
        let failures = rejected
        rejected = []
        failures.forEach { completion, error in completion(.failure(error)) }
        if let error = pendingBreak {
            pendingBreak = nil
            broken(error)
        }
    }

    /// Every completion still owed, in flight first; a rejected statement
    /// keeps its own error.
    private func takeOutstanding() -> [(Completion, PGError?)] {
        let outstanding = results.removeAll().map { ($0, PGError?.none) }
            + waiting.map { ($0.1, PGError?.none) }
            + rejected.map { ($0.0, Optional($0.1)) }
        waiting = []
        rejected = []
        return outstanding
    }

    private func deliver(_ outstanding: [(Completion, PGError?)], _ error: PGError) {
        outstanding.forEach { completion, own in completion(.failure(own ?? error)) }
    }

    private func teardown() {
        connectTimer.stop()
        deferTimer.stop()
        pendingBreak = nil
        // Stop watching before PQfinish closes the socket: the descriptor's
        // number may be reused at once, and libuv must not confuse the two.
        poll?.stop()
        poll = nil
        writePending = false
        preparedNames.removeAll()
        if let connection { PQfinish(connection) }
        connection = nil
    }

    // MARK: Notices

    /// Routes server notices (NOTICE, WARNING, …) to the logger instead of
    /// libpq's default, which writes them to stderr.
    private static let noticeReceiver: PQnoticeReceiver = { context, result in
        guard let context, let result else { return }
        Unmanaged<PGConnection>.fromOpaque(context).takeUnretainedValue().log(notice: result)
    }

    private func log(notice result: OpaquePointer) {
        // A FATAL that arrives while no statement is in flight (a fast
        // shutdown, pg_terminate_backend) comes through here, and the
        // connection stays "OK" until the socket closes. A backend may then
        // linger for good (its exit commits and waits for a synchronous
        // standby that is gone), and a statement sent to it would never be
        // answered: the session is over now.
        if PGError.endsSession(result) { breakSoon(PGError(kind: .connection, result: result)) }
        let severity = PGError.field(result, "V") ?? "NOTICE"
        let metadata: Logger.Metadata = [
            "connection": "\(name)", "severity": "\(severity)",
            "sqlstate": "\(PGError.field(result, "C") ?? "")", "message": "\(PGError.field(result, "M") ?? "")",
        ]
        switch severity {
        case "WARNING", "ERROR", "FATAL", "PANIC": logger.warning("PostgreSQL notice", metadata: metadata)
        default: logger.debug("PostgreSQL notice", metadata: metadata)
        }
    }
}

/// Calls `body` with a NULL-terminated array of C strings, valid for the
/// call only.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
