import Foundation
@testable import TestSupport
import XCTest

/// Peers that stop reading, vanish without a FIN, or trickle bytes: each is
/// let go within CLIENT_TIMEOUT_S (plus one sweep interval), and the server
/// keeps no socket, write queue or buffer for it afterwards.
///
/// "Let go" is read from the kernel: /proc/net/tcp lists a socket the
/// server has closed with inode 0 (an orphan the kernel finishes alone), so
/// a non-zero inode means the server still holds the descriptor.
final class BrokenPeerTests: ServerTestCase {
    private static let timeout: TimeInterval = 2
    /// The sweep runs every min(HEARTBEAT_INTERVAL, CLIENT_TIMEOUT_S) / 4.
    private static let sweepInterval: TimeInterval = 0.25
    /// Scheduling on a loaded machine (a debug build), the loop's cached
    /// clock and this test's own polling. Generous: the bound tells "let go"
    /// from "held forever"; the close times themselves are printed (and
    /// quoted in docs/reliability.md), about 2.0 to 2.8 s on a quiet machine, and
    /// 6.1 s was seen with a sanitizer build of the suite running alongside.
    private static let slack: TimeInterval = 20
    /// How long a test watches for the release, and the latest it may
    /// come: the same bound, so a release is never missed by stopping early.
    private static let releaseLimit = timeout + sweepInterval + slack

    override var extraEnvironment: [String: String] {
        ["CLIENT_TIMEOUT_S": "2", "HEARTBEAT_INTERVAL": "1", "CACHE_UPDATE_INTERVAL_MS": "100"]
    }

    /// `sinceEarliest`: when the server's clock cannot have started before
    /// (by default the same moment as `elapsed`'s start); the lower bound is
    /// checked from it.
    private func assertWithinTimeout(_ elapsed: TimeInterval?, from start: String, sinceEarliest: TimeInterval? = nil,
                                     file: StaticString = #filePath, line: UInt = #line) {
        guard let elapsed else { return XCTFail("the server kept the connection", file: file, line: line) }
        print("\(name): let go \(String(format: "%.2f", elapsed)) s after \(start)")
        XCTAssertGreaterThanOrEqual(sinceEarliest ?? elapsed, BrokenPeerTests.timeout - 0.1,
                                    "let go before CLIENT_TIMEOUT_S after \(start)", file: file, line: line)
        XCTAssertLessThanOrEqual(elapsed, BrokenPeerTests.releaseLimit, "let go too late after \(start)", file: file, line: line)
    }

    // MARK: Peers that stop reading

    func testAFeedClientThatTalksButNeverReadsIsDroppedAndItsSocketReleased() throws {
        _ = try FeedRows(database: database).bigBacklog(peer: "QmDeaf", rows: 2000) // 4 MB, far more than the socket buffers
        let client = try RawClient(port: server.port, receiveBufferBytes: 4096)
        XCTAssertEqual(try client.upgrade(path: "/feed"), 101)
        let clientPort = localPort(client)
        let subscribed = Date()
        try client.sendText(#"{"peer_id":"QmDeaf","msg":"big","interest":"subscribe"}"#)
        // The stall starts when the backlog reaches the client's buffer,
        // which it fills at once: after it was asked for, and at the latest
        // when this test sees it.
        eventually(30, "the backlog arrives") { self.unreadBytes(client) > 0 }
        let start = Date()

        // Pings keep it from being silent: only its writes can give it away.
        let released = waitForRelease(clientPort: clientPort, limit: BrokenPeerTests.releaseLimit) {
            try? client.send(RawClient.frame(opcode: 0x9, Array("still here".utf8)))
        }
        assertWithinTimeout(released.map { $0.timeIntervalSince(start) }, from: "the backlog's first bytes",
                            sinceEarliest: released.map { $0.timeIntervalSince(subscribed) })
        let metrics = try server.get("/metrics").body
        XCTAssertTrue(metrics.contains(#"tetcore_websocket_closes_total{code="1006"} 1"#), metrics)
    }

    func testAFeedClientClosedForFallingBehindIsReleasedThoughItNeverReadsTheCloseFrame() throws {
        server = try startServer(["FEED_MAX_CLIENT_BACKLOG_BYTES": "65536"])
        let connection = try FeedRows(database: database).bigBacklog(peer: "QmBehind", rows: 2000)
        let client = try RawClient(port: server.port, receiveBufferBytes: 4096)
        XCTAssertEqual(try client.upgrade(path: "/feed"), 101)
        let clientPort = localPort(client)
        try client.sendText(#"{"peer_id":"QmBehind","msg":"big","interest":"subscribe"}"#)
        // The backlog fills the socket's buffers.
        eventually(30, "the backlog arrives") { self.unreadBytes(client) > 0 }
        // 200 KB of new rows, over the 64 KiB the client may fall behind:
        // the 1008 comes after this, and before the test sees it counted.
        let inserted = Date()
        _ = try database.query("""
            INSERT INTO tetcore_logs (peer_connection_id, created_at, logs)
            SELECT \(connection), now() at time zone 'utc' - interval '1 s',
                   jsonb_build_object('msg', 'big', 'seq', 5000 + g, 'filler', repeat('y', 2000))
            FROM generate_series(1, 100) g
            """)
        eventually(30, "slow client closed with 1008") {
            try self.server.get("/metrics").body.contains("tetcore_feed_clients_too_slow_total 1\n")
        }
        let closedAt = Date()
        // The close frame waits behind bytes the client never takes: the
        // TCP connection goes CLIENT_TIMEOUT_S later instead of never. What
        // the client sends meanwhile is read and dropped (it once reached
        // the connection object already let go, and crashed the server).
        let released = waitForRelease(clientPort: clientPort, limit: BrokenPeerTests.releaseLimit) {
            try? client.send(RawClient.frame(opcode: 0x9, Array("still here".utf8)))
        }
        assertWithinTimeout(released.map { $0.timeIntervalSince(closedAt) }, from: "the 1008",
                            sinceEarliest: released.map { $0.timeIntervalSince(inserted) })
        XCTAssertTrue(server.process.isRunning)
    }

    func testANodeThatFloodsPingsAndNeverReadsIsDroppedWithoutQueueingThePongs() throws {
        let residentBefore = try metric("process_resident_memory_bytes")
        let client = try RawClient(port: server.port, receiveBufferBytes: 4096)
        XCTAssertEqual(try client.upgrade(), 101)
        let clientPort = localPort(client)
        // 125-byte pings as fast as the socket takes them: each would be
        // answered by a 127-byte pong the client never reads. The server's
        // socket buffer fills within milliseconds; then its writes stall.
        let ping = RawClient.frame(opcode: 0x9, [UInt8](repeating: 0x61, count: 125))
        let burst = Array([[UInt8]](repeating: ping, count: 100).joined())
        var pingsSent = 0
        let start = Date()
        let released = waitForRelease(clientPort: clientPort, limit: BrokenPeerTests.releaseLimit, pollEvery: 0) {
            let until = Date().addingTimeInterval(0.05)
            while Date() < until, (try? client.send(burst)) != nil { pingsSent += 100 }
        }
        assertWithinTimeout(released.map { $0.timeIntervalSince(start) }, from: "the first ping")
        let residentAfter = try metric("process_resident_memory_bytes")
        XCTAssertGreaterThan(pingsSent, 10_000, "the flood did reach the server")
        if SanitizedBuild.name == nil {
            XCTAssertLessThan(residentAfter - residentBefore, 16 << 20,
                              "\(pingsSent) pings left \(residentAfter - residentBefore) more resident bytes")
        }
    }

    func testAClientThatPipelinesRequestsAndNeverReadsStopsBeingServedAndIsDropped() throws {
        let residentBefore = try metric("process_resident_memory_bytes")
        let client = try RawClient(port: server.port, receiveBufferBytes: 4096)
        let clientPort = localPort(client)
        // 5000 requests in a row, each answered with the whole /metrics page.
        let requests = Array([[UInt8]](repeating: Array("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n".utf8), count: 5000).joined())
        // Non-blocking sends until the server stops reading: its answers
        // have filled every buffer on the way, so its writes have stalled.
        // The server's writes stall a little before this client sees its
        // own sends fall short: the lower bound counts from the first send.
        let firstSend = Date()
        var stoppedReading: Date?
        for _ in 0..<200 where stoppedReading == nil {
            let sent = requests.withUnsafeBytes { Glibc.send(client.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if sent < requests.count { stoppedReading = Date() } else { usleep(20_000) }
        }
        let start = try XCTUnwrap(stoppedReading, "the server kept reading requests it could not answer")
        let released = waitForRelease(clientPort: clientPort, limit: BrokenPeerTests.releaseLimit) {}
        assertWithinTimeout(released.map { $0.timeIntervalSince(start) }, from: "it stopped reading",
                            sinceEarliest: released.map { $0.timeIntervalSince(firstSend) })
        let residentAfter = try metric("process_resident_memory_bytes")
        if SanitizedBuild.name == nil {
            XCTAssertLessThan(residentAfter - residentBefore, 16 << 20, "answers not taken were not kept")
        }
    }

    // MARK: Half-open and trickling peers

    func testANodeThatGoesQuietWithoutAFinIsDroppedAfterTheTimeout() throws {
        let client = try RawClient(port: server.port)
        XCTAssertEqual(try client.upgrade(), 101)
        let clientPort = localPort(client)
        try client.sendText(#"{"msg":"last","ts":"2026-11-29T09:00:00Z"}"#)
        let lastSent = Date()
        // From here on the client neither sends nor answers pings, as if its
        // host had vanished: the kernel still ACKs, nothing else comes.
        let released = waitForRelease(clientPort: clientPort, limit: BrokenPeerTests.releaseLimit) {}
        assertWithinTimeout(released.map { $0.timeIntervalSince(lastSent) }, from: "the last message")
        XCTAssertTrue(try server.get("/metrics").body.contains(#"tetcore_websocket_closes_total{code="1001"} 1"#))
    }

    func testAnHTTPRequestHeadTrickledAByteEveryHalfSecondIsCutAtTheHeadDeadline() throws {
        let client = try RawClient(port: server.port)
        let connected = Date()
        let head = Array("GET /healthz HTTP/1.1\r\nHost: test\r\nX-Padding: \(String(repeating: "p", count: 64))\r\n\r\n".utf8)
        let closed = trickle(client, head, every: 0.5)
        assertWithinTimeout(closed.map { $0.timeIntervalSince(connected) }, from: "the accept")
    }

    func testAWebSocketFrameTrickledAByteAtATimeIsCutAsSilence() throws {
        let client = try RawClient(port: server.port)
        XCTAssertEqual(try client.upgrade(), 101)
        let upgraded = Date()
        // One frame of 100 bytes would take 53 s at this pace: no frame
        // ever completes, so each byte is no sign of life.
        let frame = RawClient.frame(opcode: 0x1, Array(#"{"msg":"slow","ts":"2026-11-29T09:00:00Z","p":"\#(String(repeating: "s", count: 58))"}"#.utf8))
        let closed = trickle(client, frame, every: 0.5)
        assertWithinTimeout(closed.map { $0.timeIntervalSince(upgraded) }, from: "the upgrade")
    }

    // MARK: Helpers

    /// Runs `action` every `pollEvery` seconds until the server no longer
    /// holds the connection from `clientPort`; returns when that was seen.
    private func waitForRelease(clientPort: Int, limit seconds: TimeInterval, pollEvery: TimeInterval = 0.05,
                                _ action: () -> Void) -> Date? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            // A server that is gone holds no socket either: that is no release.
            guard server.process.isRunning else {
                XCTFail("the server exited (status \(server.process.terminationStatus)); its log ends:\n\(server.log.suffix(3000))")
                return nil
            }
            if !serverHoldsSocket(clientPort: clientPort) { return Date() }
            action()
            if pollEvery > 0 { usleep(useconds_t(pollEvery * 1_000_000)) }
        }
        return nil
    }

    /// Sends `bytes` one at a time, `interval` apart, watching for the
    /// server's close in between (pings may arrive before it); returns when
    /// the connection ended, nil if all bytes went out first.
    private func trickle(_ client: RawClient, _ bytes: [UInt8], every interval: TimeInterval) -> Date? {
        for byte in bytes {
            guard (try? client.send([byte])) != nil else { return Date() }
            let due = Date().addingTimeInterval(interval)
            while Date() < due {
                var poller = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
                let waitMs = Int32(max(1, due.timeIntervalSinceNow * 1000))
                guard poll(&poller, 1, waitMs) > 0 else { continue }
                var chunk = [UInt8](repeating: 0, count: 4096)
                if recv(client.fd, &chunk, chunk.count, 0) <= 0 { return Date() }
            }
        }
        return nil
    }

    /// True while /proc/net/tcp shows the server's end of the connection
    /// from `clientPort` with a descriptor (a non-zero inode). The table
    /// holds every socket of the machine: the line is found by its
    /// addresses in the raw bytes rather than by parsing all of them.
    private func serverHoldsSocket(clientPort: Int) -> Bool {
        // Read to the end: /proc files report size 0, and a read sized by
        // that returns only the first page.
        guard let table = FileHandle(forReadingAtPath: "/proc/net/tcp")?.readDataToEndOfFile() else { return true }
        let addresses = String(format: "0100007F:%04X 0100007F:%04X ", server.port, clientPort)
        guard let found = table.range(of: Data(addresses.utf8)) else { return false }
        let rest = table[found.upperBound...]
        let line = rest.prefix { $0 != UInt8(ascii: "\n") }
        // After the addresses: st, tx:rx, tr:tm, retrnsmt, uid, timeout, inode.
        let fields = String(decoding: line, as: UTF8.self).split(separator: " ")
        return fields.count > 6 && fields[6] != "0"
    }

    /// Bytes waiting in the client's receive buffer (FIONREAD).
    private func unreadBytes(_ client: RawClient) -> Int32 {
        var count: Int32 = 0
        _ = ioctl(client.fd, UInt(FIONREAD), &count)
        return count
    }

    private func localPort(_ client: RawClient) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(client.fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private func metric(_ name: String) throws -> Int {
        let body = try server.get("/metrics").body
        guard let line = body.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }),
              let value = Double(line.split(separator: " ")[1]) else { throw TestFailure("no \(name) in /metrics") }
        return Int(value)
    }
}
