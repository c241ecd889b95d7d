import Foundation
import CLibPQ
import Logging

/// One libpq connection driven by the event loop: a non-blocking connect,
/// then statements sent without waiting and results read as they arrive.
///
/// In pipeline mode every statement is followed by its own sync point, so
/// each runs in its own implicit transaction and a failing one affects no
/// other; many may be in flight. Without pipeline mode statements go one
/// at a time (migrations need multi-statement simple queries).
public final class PGConnection {
    public enum State { case idle, connecting, ready, closed }

    private struct Pending {
        let completion: (Result<PGRows, PGError>) -> Void
        var outcome: Result<PGRows, PGError>?
        /// Pipeline mode: the statement's results are in, its sync is next.
        var awaitingSync = false
    }

    private enum Statement {
        case parameters(String, [PGParameter])
        case simple(String)
    }

    public private(set) var state: State = .idle
    public var pipelined = false
    public var connectTimeoutMs: UInt64 = 10_000
    public var onDisconnect: ((PGError) -> Void)?
    let name: String
    private let loop: EventLoop
    private let conninfo: String
    private let logger: Logger
    private var connection: OpaquePointer?
    private var poll: SocketPoll?
    private var connectTimer: LoopTimer?
    private var connectCompletion: ((PGError?) -> Void)?
    private var inFlightQueue: [Pending] = []
    private var inFlightHead = 0
    /// Statements waiting for the previous one (non-pipeline mode only).
    private var waiting: [(Statement, (Result<PGRows, PGError>) -> Void)] = []
    private var flushPending = false

    public init(loop: EventLoop, conninfo: String, name: String, logger: Logger) {
        self.loop = loop
        self.conninfo = conninfo
        self.name = name
        self.logger = logger
    }

    deinit {
        if let connection { PQfinish(connection) }
    }

    /// Statements sent or waiting, not yet completed.
    public var inFlight: Int { inFlightQueue.count - inFlightHead + waiting.count }

    // MARK: Connecting

    public func connect(_ completion: @escaping (PGError?) -> Void) {
        guard state == .idle else {
            completion(PGError(kind: .connection, sqlState: nil, message: "connect called in state \(state)"))
            return
        }
        guard let connection = PQconnectStart(conninfo), PQstatus(connection) != CONNECTION_BAD else {
            completion(PGError(kind: .connection, sqlState: nil, message: "cannot start a connection: invalid conninfo or out of memory"))
            return
        }
        self.connection = connection
        state = .connecting
        connectCompletion = completion
        PQsetnonblocking(connection, 1)
        let timer = LoopTimer(loop: loop)
        timer.start(after: connectTimeoutMs) { [weak self] in
            self?.connectFailed("timed out after \(self?.connectTimeoutMs ?? 0) ms")
        }
        connectTimer = timer
        continueConnecting(PGRES_POLLING_WRITING)
    }

    private func continueConnecting(_ status: PostgresPollingStatusType) {
        guard let connection else { return }
        switch status {
        case PGRES_POLLING_OK:
            connected()
        case PGRES_POLLING_FAILED:
            connectFailed(PGConnection.errorMessage(connection))
        default:
            // The socket may change while libpq tries addresses in turn.
            let fd = PQsocket(connection)
            if poll?.fd != fd {
                poll = try? SocketPoll(loop: loop, fd: fd)
            }
            guard let poll else {
                connectFailed("cannot watch the connection's socket")
                return
            }
            poll.start(status == PGRES_POLLING_READING ? .readable : .writable) { [weak self] _, _ in
                guard let self, let connection = self.connection else { return }
                self.continueConnecting(PQconnectPoll(connection))
            }
        }
    }

    private func connected() {
        guard let connection else { return }
        connectTimer?.stop()
        connectTimer = nil
        if pipelined && PQenterPipelineMode(connection) != 1 {
            connectFailed("cannot enter pipeline mode: " + PGConnection.errorMessage(connection))
            return
        }
        state = .ready
        watch()
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

    // MARK: Sending

    public func query(_ sql: String, _ parameters: [PGParameter] = [], _ completion: @escaping (Result<PGRows, PGError>) -> Void) {
        submit(.parameters(sql, parameters), completion)
    }

    /// Several statements in one string (simple query protocol); the result
    /// is the last statement's. Not available in pipeline mode.
    public func simpleQuery(_ sql: String, _ completion: @escaping (Result<PGRows, PGError>) -> Void) {
        guard !pipelined else {
            completion(.failure(PGError(kind: .query, sqlState: nil, message: "simple queries need a non-pipelined connection")))
            return
        }
        submit(.simple(sql), completion)
    }

    private func submit(_ statement: Statement, _ completion: @escaping (Result<PGRows, PGError>) -> Void) {
        guard state == .ready else {
            completion(.failure(PGError(kind: state == .closed ? .closed : .connection, sqlState: nil,
                                        message: "connection \(name) is not ready")))
            return
        }
        if !pipelined && inFlight > 0 {
            waiting.append((statement, completion))
            return
        }
        send(statement, completion)
    }

    private func send(_ statement: Statement, _ completion: @escaping (Result<PGRows, PGError>) -> Void) {
        guard let connection else { return }
        let sent: Bool
        switch statement {
        case .simple(let sql):
            sent = PQsendQuery(connection, sql) == 1
        case .parameters(let sql, let parameters):
            sent = PGConnection.sendParameters(connection, sql, parameters)
                && (!pipelined || PQpipelineSync(connection) == 1)
        }
        guard sent else {
            completion(.failure(PGError(kind: .connection, sqlState: nil, message: PGConnection.errorMessage(connection))))
            broken(PGConnection.errorMessage(connection))
            return
        }
        inFlightQueue.append(Pending(completion: completion))
        flush()
    }

    private static func sendParameters(_ connection: OpaquePointer, _ sql: String, _ parameters: [PGParameter]) -> Bool {
        let count = parameters.count
        var types = parameters.map(\.oid)
        var lengths = parameters.map { Int32($0.bytes?.count ?? 0) }
        var formats = parameters.map { Int32($0.isBinary ? 1 : 0) }
        // Each value must stay valid for the call: pin them all at once.
        return withPinnedPointers(parameters.map(\.bytes)) { values in
            PQsendQueryParams(connection, sql, Int32(count), &types, values, &lengths, &formats, 0) == 1
        }
    }

    /// Writes what libpq buffered; watches writability until it is out.
    private func flush() {
        guard let connection else { return }
        switch PQflush(connection) {
        case 0:
            if flushPending { flushPending = false; watch() }
        case 1:
            if !flushPending { flushPending = true; watch() }
        default:
            broken(PGConnection.errorMessage(connection))
        }
    }

    private func watch() {
        poll?.start(flushPending ? [.readable, .writable] : .readable) { [weak self] status, events in
            guard let self else { return }
            if status < 0 {
                self.broken("socket error: \(UVError(status))")
                return
            }
            if events.contains(.readable) { self.readable() }
            if events.contains(.writable), self.state == .ready { self.flush() }
        }
    }

    // MARK: Receiving

    private func readable() {
        guard let connection, state == .ready else { return }
        if PQconsumeInput(connection) == 0 {
            broken(PGConnection.errorMessage(connection))
            return
        }
        // Only ask for results while some are expected: with nothing
        // pending, PQgetResult returns NULL without being busy.
        while state == .ready, inFlightHead < inFlightQueue.count, PQisBusy(connection) == 0 {
            let result = PQgetResult(connection)
            handle(result)
            if let result { PQclear(result) }
        }
        if state == .ready { flush() }
        if state == .ready && (PQstatus(connection) == CONNECTION_BAD) {
            broken(PGConnection.errorMessage(connection))
        }
    }

    private func handle(_ result: OpaquePointer?) {
        guard let result else {
            // End of one statement's results.
            if pipelined {
                inFlightQueue[inFlightHead].awaitingSync = true
            } else {
                complete()
            }
            return
        }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_PIPELINE_SYNC:
            complete()
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            // A simple query yields one result per statement; keep the
            // first error, else the last result.
            if case .failure = inFlightQueue[inFlightHead].outcome {} else {
                inFlightQueue[inFlightHead].outcome = .success(PGRows(result))
            }
        case PGRES_PIPELINE_ABORTED:
            inFlightQueue[inFlightHead].outcome = .failure(PGError(kind: .query, sqlState: nil,
                message: "statement skipped: an earlier statement of its pipeline segment failed"))
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            inFlightQueue[inFlightHead].outcome = .failure(PGError(kind: .query, sqlState: sqlState, message: message))
        }
    }

    private func complete() {
        let pending = inFlightQueue[inFlightHead]
        inFlightHead += 1
        if inFlightHead == inFlightQueue.count {
            inFlightQueue.removeAll(keepingCapacity: true)
            inFlightHead = 0
        }
        if !pipelined, !waiting.isEmpty {
            let (statement, completion) = waiting.removeFirst()
            send(statement, completion)
        }
        pending.completion(pending.outcome ?? .failure(PGError(kind: .query, sqlState: nil, message: "no result")))
    }

    // MARK: Closing

    /// Closes the connection; outstanding work completes with `.closed`.
    public func close() {
        guard state != .closed else { return }
        let outstanding = takeOutstanding()
        teardown()
        state = .closed
        let error = PGError(kind: .closed, sqlState: nil, message: "connection \(name) closed")
        outstanding.forEach { $0(.failure(error)) }
    }

    private func broken(_ message: String) {
        guard state == .ready else { return }
        let outstanding = takeOutstanding()
        teardown()
        state = .idle
        let error = PGError(kind: .connection, sqlState: nil, message: message)
        logger.warning("PostgreSQL connection lost", metadata: ["connection": "\(name)", "error": "\(message)",
                                                               "statements_in_flight": "\(outstanding.count)"])
        outstanding.forEach { $0(.failure(error)) }
        onDisconnect?(error)
    }

    private func takeOutstanding() -> [(Result<PGRows, PGError>) -> Void] {
        let completions = inFlightQueue[inFlightHead...].map(\.completion) + waiting.map(\.1)
        inFlightQueue = []
        inFlightHead = 0
        waiting = []
        return completions
    }

    private func teardown() {
        connectTimer?.stop()
        connectTimer = nil
        poll?.stop()
        poll = nil
        flushPending = false
        if let connection { PQfinish(connection) }
        connection = nil
    }

    static func errorMessage(_ connection: OpaquePointer) -> String {
        String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

private let emptyValue = UnsafePointer<UInt8>(UnsafeMutablePointer<UInt8>.allocate(capacity: 1))

/// Calls `body` with C pointers to every array's bytes (NULL for nil),
/// all valid for the duration of the call.
private func withPinnedPointers<R>(_ arrays: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafePointer<CChar>?] = []
    pointers.reserveCapacity(arrays.count)
    func pin(_ index: Int) -> R {
        guard index < arrays.count else { return body(pointers) }
        guard let bytes = arrays[index] else {
            pointers.append(nil)
            return pin(index + 1)
        }
        return bytes.withUnsafeBufferPointer { buffer in
            // An empty binary value may have no storage; its length (0) is
            // what counts, but libpq wants a non-NULL pointer.
            pointers.append(UnsafeRawPointer(buffer.baseAddress ?? emptyValue)?.assumingMemoryBound(to: CChar.self))
            return pin(index + 1)
        }
    }
    return pin(0)
}
