import Foundation
import Logging
import XCTest
import Reactor
import PostgresClient

/// A test with its own database and its own event loop, and helpers that
/// run the loop until a statement completes.
class StorageTestCase: XCTestCase {
    var loop: EventLoop!
    var database: TestDatabase!
    let logs = CapturedLogs()
    private var connections: [PGConnection] = []

    var logger: Logger {
        let logs = self.logs
        var logger = Logger(label: "storage-tests") { _ in CapturingLogHandler(logs: logs) }
        logger.logLevel = .debug
        return logger
    }

    override func setUpWithError() throws {
        loop = EventLoop()
        database = try TestDatabase()
    }

    override func tearDown() {
        connections.forEach { $0.close() }
        connections = []
        database?.drop()
        logs.records = []
        // Last: every handle on the loop must be gone before it is.
        loop = nil
    }

    /// A connection to the test database (or `conninfo`), closed at teardown.
    func makeConnection(pipelined: Bool = false, conninfo: String? = nil, name: String = "test") -> PGConnection {
        let connection = PGConnection(loop: loop, conninfo: conninfo ?? database.url, name: name, logger: logger)
        connection.pipelined = pipelined
        connections.append(connection)
        return connection
    }

    /// A connection that is ready, or a failed test.
    func connect(pipelined: Bool = false, conninfo: String? = nil, file: StaticString = #filePath, line: UInt = #line) -> PGConnection {
        let connection = makeConnection(pipelined: pipelined, conninfo: conninfo)
        var outcome: PGError??
        connection.connect { outcome = .some($0) }
        LoopRunner.run(loop, file: file, line: line) { outcome != nil }
        if case .some(.some(let error)) = outcome { XCTFail("cannot connect: \(error)", file: file, line: line) }
        return connection
    }

    /// Runs one statement to completion.
    func result(_ connection: PGConnection, _ sql: String, _ parameters: [PGParameter] = [], simple: Bool = false,
                preparedAs name: String? = nil,
                file: StaticString = #filePath, line: UInt = #line) -> Result<PGRows, PGError>? {
        var outcome: Result<PGRows, PGError>?
        if simple {
            connection.simpleQuery(sql) { outcome = $0 }
        } else {
            connection.query(sql, parameters, preparedAs: name) { outcome = $0 }
        }
        LoopRunner.run(loop, file: file, line: line) { outcome != nil }
        return outcome
    }

    /// Runs one statement that must succeed.
    @discardableResult
    func rows(_ connection: PGConnection, _ sql: String, _ parameters: [PGParameter] = [], simple: Bool = false,
              preparedAs name: String? = nil, file: StaticString = #filePath, line: UInt = #line) -> PGRows? {
        switch result(connection, sql, parameters, simple: simple, preparedAs: name, file: file, line: line) {
        case .success(let rows):
            return rows
        case .failure(let error):
            XCTFail("\(sql): \(error)", file: file, line: line)
            return nil
        case nil:
            return nil
        }
    }

    /// Ends the backend session of `pid` from another connection, as an
    /// administrator or a server restart would.
    func terminateBackend(_ pid: String?, file: StaticString = #filePath, line: UInt = #line) {
        guard let pid, let number = Int32(pid) else { return XCTFail("no backend pid", file: file, line: line) }
        let admin = connect(file: file, line: line)
        XCTAssertEqual(rows(admin, "SELECT pg_terminate_backend($1)", [.int32(number)], file: file, line: line)?
            .string(0, 0), "t", file: file, line: line)
        admin.close()
    }
}

/// Log records kept for assertions.
final class CapturedLogs {
    struct Record {
        let level: Logger.Level
        let message: String
        let metadata: Logger.Metadata
    }

    var records: [Record] = []

    func messages(at level: Logger.Level) -> [String] {
        records.filter { $0.level == level }.map(\.message)
    }
}

struct CapturingLogHandler: LogHandler {
    let logs: CapturedLogs
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        logs.records.append(.init(level: event.level, message: event.message.description,
                                  metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago).
func closedPort() -> UInt16 {
    let listener = ListeningSocket()
    let port = listener.port
    listener.close()
    return port
}

/// A socket that listens on 127.0.0.1 and never accepts: connections to it
/// complete their TCP handshake and then hear nothing.
final class ListeningSocket {
    private(set) var fd: Int32
    let port: UInt16

    init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                precondition(bind(fd, address, length) == 0 && listen(fd, 16) == 0, "cannot listen on 127.0.0.1")
                precondition(getsockname(fd, address, &length) == 0, "cannot read the bound port")
            }
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    func close() {
        guard fd >= 0 else { return }
        _ = Glibc.close(fd)
        fd = -1
    }

    deinit { close() }
}

/// The error of a failed statement, nil when it succeeded.
extension Result where Failure == PGError {
    var pgError: PGError? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
