@testable import PostgresClient
import Logging
@testable import TestSupport
import XCTest
@testable import PostgresClient

final class PGPoolTests: StorageTestCase {
    private func startedPool(size: Int, conninfo: String? = nil) -> PGPool {
        let pool = PGPool(loop: loop, conninfo: conninfo ?? database.url, size: size, pipelined: true,
                          name: "pool", logger: logger)
        pool.start()
        // Weak: XCTest keeps its test cases, and so their teardown blocks.
        addTeardownBlock { [weak pool] in pool?.close() }
        return pool
    }

    /// Sends one statement through the pool and waits for its result.
    private func send(_ pool: PGPool, _ sql: String,
                      file: StaticString = #filePath, line: UInt = #line) -> Result<PGRows, PGError>? {
        var outcome: Result<PGRows, PGError>?
        XCTAssertTrue(pool.trySend(sql, [], maxInFlight: 8) { outcome = $0 }, file: file, line: line)
        LoopRunner.run(loop, file: file, line: line) { outcome != nil }
        return outcome
    }

    func testSendsOnTheLeastBusyConnectionAndNeverBeyondMaxInFlight() {
        let pool = startedPool(size: 2)
        var readyEvents = 0
        var capacityEvents = 0
        pool.onReady = { readyEvents += 1 }
        pool.onCapacity = { capacityEvents += 1 }
        LoopRunner.run(loop) { pool.readyCount == 2 }
        XCTAssertEqual(readyEvents, 2)

        var backends: [String] = []
        for _ in 0..<4 {
            let sent = pool.trySend("SELECT pg_backend_pid(), pg_sleep(0.1)", [], maxInFlight: 2) { result in
                backends.append((try? result.get())?.string(0, 0) ?? "failed")
            }
            XCTAssertTrue(sent)
        }
        XCTAssertFalse(pool.trySend("SELECT 1", [], maxInFlight: 2) { _ in XCTFail("nothing may be sent when full") })
        XCTAssertEqual(pool.busyCount, 2)
        LoopRunner.run(loop) { backends.count == 4 }
        XCTAssertEqual(capacityEvents, 4)
        XCTAssertEqual(pool.busyCount, 0)
        XCTAssertFalse(backends.contains("failed"))
        XCTAssertEqual(Dictionary(grouping: backends, by: { $0 }).mapValues(\.count).values.sorted(), [2, 2],
                       "two statements on each connection")
        XCTAssertEqual(pool.reconnectCount, 0)
    }

    /// libpq tries a multi-host conninfo's hosts in order and, in
    /// non-blocking mode, bounds none of them: a first host that accepts
    /// TCP connections and never answers would hold every attempt until its
    /// timeout. The pool starts each new attempt from the next host.
    func testAFirstHostThatNeverAnswersIsPassedOverForTheNextOne() throws {
        let silent = try SilentListener()
        let port = try XCTUnwrap(database.url.split(separator: ":").last?.split(separator: "/").first)
        let conninfo = "postgres://postgres@127.0.0.1:\(silent.port),127.0.0.1:\(port)/\(database.name)"
        let pool = PGPool(loop: loop, conninfo: conninfo, size: 1, pipelined: true, name: "pool", logger: logger,
                          connectTimeoutMs: 300)
        pool.start()
        addTeardownBlock { [weak pool] in pool?.close() }
        LoopRunner.run(loop) { pool.readyCount == 1 }
        XCTAssertEqual((try? send(pool, "SELECT current_database()")?.get())?.string(0, 0), database.name)
    }

    func testHostListsRotateTogether() {
        let conninfo = "postgres://u@a:1,b:2,c:3/db?target_session_attrs=read-write"
        XCTAssertTrue(PGConnection.rotatedHostLists(in: conninfo, by: 0).isEmpty)
        XCTAssertTrue(PGConnection.rotatedHostLists(in: conninfo, by: 3).isEmpty, "a full turn: the order given")
        let rotated = PGConnection.rotatedHostLists(in: conninfo, by: 4)
        XCTAssertEqual(rotated.map(\.keyword), ["host", "port"])
        XCTAssertEqual(rotated.map(\.value), ["b,c,a", "2,3,1"])
        XCTAssertEqual(PGConnection.rotatedHostLists(in: "host=a,b port=5432", by: 1).map(\.value), ["b,a"],
                       "one port for every host stays as it is")
        XCTAssertTrue(PGConnection.rotatedHostLists(in: "host=a port=5432", by: 1).isEmpty)
    }

    func testReconnectsAConnectionTheServerTerminated() {
        let pool = startedPool(size: 1)
        var readyEvents = 0
        pool.onReady = { readyEvents += 1 }
        LoopRunner.run(loop) { pool.readyCount == 1 }
        let pid = (try? send(pool, "SELECT pg_backend_pid()")?.get())?.string(0, 0)

        var inFlight: Result<PGRows, PGError>?
        XCTAssertTrue(pool.trySend("SELECT pg_sleep(30)", [], maxInFlight: 8) { inFlight = $0 })
        terminateBackend(pid)
        LoopRunner.run(loop) { inFlight != nil }
        XCTAssertEqual(inFlight?.pgError?.kind, .connection)

        LoopRunner.run(loop) { pool.readyCount == 1 && pool.reconnectCount == 1 }
        XCTAssertEqual(readyEvents, 2)
        let newPID = (try? send(pool, "SELECT pg_backend_pid()")?.get())?.string(0, 0)
        XCTAssertNotNil(newPID)
        XCTAssertNotEqual(newPID, pid)
        let warning = logs.records.first { $0.message == "PostgreSQL connection lost; reconnecting" }
        XCTAssertEqual(warning?.level, .warning)
        XCTAssertEqual(warning?.metadata["retry_in_ms"], "100")
        XCTAssertNotNil(warning?.metadata["error"])
        XCTAssertEqual(logs.messages(at: .info), ["reconnected to PostgreSQL"])
    }

    func testBacksOffWhileTheDatabaseIsUnreachableAndCloseCancelsTheRetry() {
        let pool = startedPool(size: 1, conninfo: "host=127.0.0.1 port=\(closedPort()) user=postgres dbname=postgres")
        LoopRunner.run(loop) {
            self.logs.records.filter { $0.message == "cannot connect to PostgreSQL; retrying" }.count == 3
        }
        let delays = logs.records.filter { $0.message == "cannot connect to PostgreSQL; retrying" }
            .map { $0.metadata["retry_in_ms"]?.description }
        XCTAssertEqual(delays, ["100", "200", "400"])
        XCTAssertEqual(pool.readyCount, 0)
        XCTAssertEqual(pool.reconnectCount, 0)
        XCTAssertFalse(pool.trySend("SELECT 1", [], maxInFlight: 8) { _ in XCTFail("nothing is ready") })

        pool.close()
        // Nothing is left to keep the loop running: no retry timer, no socket.
        var iterations = 0
        while loop.runOnce(wait: false) && iterations < 100 { iterations += 1 }
        XCTAssertFalse(loop.runOnce(wait: false))
    }
}

/// A TCP socket on 127.0.0.1 that listens and never accepts: the kernel
/// completes connections into its backlog, and nobody ever answers them,
/// like a host whose PostgreSQL hangs.
private final class SilentListener {
    let port: Int
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw TestFailure("cannot listen: errno \(errno)")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
