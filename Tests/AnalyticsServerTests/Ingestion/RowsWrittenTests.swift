import Foundation
@testable import TestSupport
import XCTest

/// tetcore_rows_written_total against what PostgreSQL actually stored: a
/// batch replayed after its first attempt committed, and rows a trigger
/// keeps out of the table.
final class RowsWrittenTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "20"] }

    private func node(_ server: ServerProcess) throws -> RawClient {
        let client = try RawClient(port: server.port)
        XCTAssertEqual(try client.upgrade(), 101)
        return client
    }

    private func rowsWritten(_ server: ServerProcess) throws -> Double {
        try XCTUnwrap(try Scrape.of(server)["tetcore_rows_written_total"])
    }

    /// The first attempt of a batch commits, but its answer never reaches
    /// the server (a relay drops it and cuts the connection): the server
    /// sends the batch again, PostgreSQL finds its marker and inserts
    /// nothing. The rows are in the table once, and counted once.
    func testABatchReplayedAfterItsAnswerWasLostIsCountedOnce() throws {
        guard let components = URLComponents(string: database.url), let host = components.host, let pgPort = components.port else {
            throw TestFailure("TEST_DATABASE_URL must be a URL with host and port: \(database.url)")
        }
        let relay = try AnswerDroppingRelay(host: host, port: pgPort)
        defer { relay.stop() }
        var proxied = components
        proxied.port = relay.port
        let server = try startServer(["DATABASE_URL": try XCTUnwrap(proxied.string)])
        let client = try node(server)
        try client.sendText(#"{"msg":"first","ts":"2026-11-29T09:00:00Z","n":0}"#)
        eventually(60, "the first row") { self.count("SELECT count(*) FROM tetcore_logs") == 1 }

        // The node's connection row exists: the next INSERT answered is a batch.
        relay.arm()
        for index in 1...50 { try client.sendText(#"{"msg":"seq","ts":"2026-11-29T09:00:00Z","n":\#(index)}"#) }
        eventually(60, "a batch's answer dropped") { !relay.droppedTags.isEmpty }
        eventually(60, "every row stored") { self.count("SELECT count(*) FROM tetcore_logs") == 51 }
        let dropped = try XCTUnwrap(relay.droppedTags.first)
        let droppedRows = try XCTUnwrap(Int(dropped.dropFirst("INSERT 0 ".count)), dropped)
        XCTAssertGreaterThan(droppedRows, 0, "the dropped answer was of a batch that committed rows")
        eventually(60, "the batch sent again") { ((try? Scrape.of(server))?["tetcore_batch_retries_total"] ?? 0) >= 1 }
        eventually(60, "nothing left buffered") { (try? Scrape.of(server)["tetcore_buffered_rows"]) == 0 }

        XCTAssertEqual(count("SELECT count(DISTINCT logs->>'n') FROM tetcore_logs"), 51, "each row once")
        XCTAssertEqual(try rowsWritten(server), 51, "the replayed batch (\(droppedRows) rows) counted once")
    }

    /// A trigger keeps some rows out of the table: the counter says what
    /// the statements inserted, not what the batches held.
    func testRowsATriggerKeepsOutAreNotCountedAsWritten() throws {
        try database.query("""
            CREATE FUNCTION keep_out() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
            CREATE TRIGGER keep_odd_out BEFORE INSERT ON tetcore_logs FOR EACH ROW
                WHEN ((NEW.logs->>'n')::int % 2 = 1) EXECUTE FUNCTION keep_out();
            """)
        let client = try node(server)
        for index in 0..<40 { try client.sendText(#"{"msg":"seq","ts":"2026-11-29T09:00:00Z","n":\#(index)}"#) }
        eventually(60, "every message received") { (try? Scrape.of(self.server)["tetcore_message_count"]) == 40 }
        eventually(60, "nothing left buffered") { (try? Scrape.of(self.server)["tetcore_buffered_rows"]) == 0 }
        XCTAssertEqual(count("SELECT count(*) FROM tetcore_logs"), 20)
        XCTAssertEqual(try rowsWritten(server), 20)
    }
}

/// A TCP relay between the server and PostgreSQL. Once armed, the next
/// answer carrying an `INSERT 0 n` command tag with n > 0 is not passed
/// on: the relay closes that connection on both sides instead, after
/// PostgreSQL has committed (it sends the tag with its ReadyForQuery,
/// after the commit of the pipeline's sync point).
final class AnswerDroppingRelay: @unchecked Sendable {
    let port: Int
    private let host: String
    private let upstreamPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var armed = false
    private var dropped: [String] = []
    private var sockets: Set<Int32> = []

    init(host: String, port upstreamPort: Int) throws {
        self.host = host
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = AnswerDroppingRelay.address("127.0.0.1", 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw TestFailure("relay cannot listen: errno \(errno)")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptConnections() }
    }

    /// Drops the next answer that reports inserted rows.
    func arm() {
        lock.withLock { armed = true }
    }

    /// The command tags of the answers dropped.
    var droppedTags: [String] {
        lock.withLock { dropped }
    }

    /// Stops accepting and cuts every connection.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        lock.withLock { for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    deinit { close(listener) }

    private static func address(_ host: String, _ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    private func acceptConnections() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = AnswerDroppingRelay.address(host, upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(client)
                close(upstream)
                continue
            }
            lock.withLock { sockets.formUnion([client, upstream]) }
            let pair = Pair(client, upstream, relay: self)
            Thread.detachNewThread { [self] in relay(from: upstream, to: client, watching: true, pair) }
            Thread.detachNewThread { [self] in relay(from: client, to: upstream, watching: false, pair) }
        }
    }

    /// Both directions of one connection: the last to end closes both.
    private final class Pair {
        let fds: (Int32, Int32)
        private var running = 2
        private let lock = NSLock()
        private unowned let relay: AnswerDroppingRelay

        init(_ first: Int32, _ second: Int32, relay: AnswerDroppingRelay) {
            fds = (first, second)
            self.relay = relay
        }

        func ended() {
            shutdown(fds.0, Int32(SHUT_RDWR))
            shutdown(fds.1, Int32(SHUT_RDWR))
            let last = lock.withLock { running -= 1; return running == 0 }
            guard last else { return }
            relay.lock.withLock { relay.sockets.subtract([fds.0, fds.1]) }
            close(fds.0)
            close(fds.1)
        }
    }

    private func relay(from source: Int32, to destination: Int32, watching: Bool, _ pair: Pair) {
        defer { pair.ended() }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let received = recv(source, &buffer, buffer.count, 0)
            guard received > 0 else { return }
            let chunk = buffer[0..<received]
            if watching, let tag = AnswerDroppingRelay.insertTag(in: chunk), disarm(dropping: tag) { return }
            var sent = 0
            while sent < received {
                let written = buffer[sent..<received].withUnsafeBytes { send(destination, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard written > 0 else { return }
                sent += written
            }
        }
    }

    private func disarm(dropping tag: String) -> Bool {
        lock.withLock {
            guard armed else { return false }
            armed = false
            dropped.append(tag)
            return true
        }
    }

    /// "INSERT 0 n" with n > 0, if `bytes` hold a CommandComplete with it.
    private static func insertTag(in bytes: ArraySlice<UInt8>) -> String? {
        let prefix = Array("INSERT 0 ".utf8)
        var index = bytes.startIndex
        while index + prefix.count <= bytes.endIndex {
            if bytes[index..<index + prefix.count].elementsEqual(prefix) {
                let digits = bytes[(index + prefix.count)...].prefix { (48...57).contains($0) }
                if let rows = Int(String(decoding: digits, as: UTF8.self)), rows > 0 {
                    return "INSERT 0 \(rows)"
                }
            }
            index += 1
        }
        return nil
    }
}
