import Foundation
@testable import LoadGenerator
import Reactor
@testable import TestSupport
import XCTest

/// What a node knows of where its bytes are: the ledger's arithmetic, the
/// socket's counts against a real peer over loopback, and how the summary
/// reports nodes given up on.
final class DeliveryTests: XCTestCase {
    func testLedgerTellsHandedAcknowledgedAndUnsentMessages() {
        var ledger = DeliveryLedger(firstSequence: 10)
        ledger.other(bytes: 100) // the upgrade request
        ledger.message(bytes: 50) // 10
        ledger.message(bytes: 50) // 11
        ledger.other(bytes: 6) // a pong
        ledger.message(bytes: 50) // 12
        ledger.message(bytes: 50) // 13
        XCTAssertEqual(ledger.nextSequence, 14)

        // The kernel took the request, message 10 and half of 11.
        XCTAssertEqual(ledger.handed(upTo: 175).messages, 1)
        XCTAssertEqual(ledger.notHanded, 11..<14)
        // Then everything up to the end of 12.
        let more = ledger.handed(upTo: 256)
        XCTAssertEqual(more.messages, 2)
        XCTAssertEqual(more.bytes, 100)
        XCTAssertEqual(ledger.notHanded, 13..<14)
        XCTAssertEqual(ledger.unacknowledged, 10..<13)
        // The server's TCP acknowledged up to the middle of 11.
        ledger.acknowledged(upTo: 170)
        XCTAssertEqual(ledger.unacknowledged, 11..<13)
        // Acknowledging beyond what the kernel took changes nothing more.
        ledger.acknowledged(upTo: 1_000)
        XCTAssertEqual(ledger.unacknowledged, 13..<13)
        XCTAssertEqual(ledger.notHanded, 13..<14)
        XCTAssertEqual(ledger.handed(upTo: 306).messages, 1)
        ledger.acknowledged(upTo: 306)
        XCTAssertTrue(ledger.unacknowledged.isEmpty)
        XCTAssertTrue(ledger.notHanded.isEmpty)
    }

    func testLedgerForgetsWhatWasAcknowledgedAcrossManyPieces() {
        var ledger = DeliveryLedger(firstSequence: 0)
        var offset: UInt64 = 0
        for round in 0..<20 {
            for _ in 0..<1_000 { ledger.message(bytes: 7) }
            offset += 7_000
            XCTAssertEqual(ledger.handed(upTo: offset).messages, 1_000)
            // Acknowledged up to the middle of a message, 3 messages short.
            ledger.acknowledged(upTo: offset - 7 * 3 + 2)
            XCTAssertEqual(ledger.unacknowledged, UInt64(round * 1_000 + 997)..<UInt64(round * 1_000 + 1_000))
            XCTAssertEqual(ledger.piecesInKernel, 3)
        }
        ledger.acknowledged(upTo: offset)
        XCTAssertEqual(ledger.piecesInKernel, 0)
        XCTAssertEqual(ledger.unacknowledged, 20_000..<20_000)
    }

    /// A peer that does not read: the kernel takes what fits, the rest
    /// waits in the queue, and the read position (window edge) stands
    /// still until the peer reads, then moves. With the write side shut
    /// the peer gets every byte and EOF.
    func testSocketCountsAgainstAPeerThatReadsLate() throws {
        let listener = try LoopbackListener()
        let loop = EventLoop()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        let socket = NodeSocket(loop: loop, readBuffer: buffer)
        var connected: UVError?? = .none
        socket.connect(ipv4: "127.0.0.1", port: listener.port) { connected = .some($0) }
        try spin(loop, "connected") { connected != nil }
        XCTAssertNil(connected ?? nil)
        let peer = try listener.accept()
        defer { close(peer) }
        var ended = false
        socket.onEnd = { _ in ended = true }
        socket.startReading()

        let chunk = [UInt8](repeating: 0x41, count: 64 << 10)
        var submitted = 0
        // Until the kernel takes no more: the queue holds the rest.
        while socket.queuedBytes < 1 << 20 {
            XCTAssertTrue(socket.send(chunk))
            submitted += chunk.count
            loop.runOnce(wait: false)
        }
        XCTAssertEqual(socket.bytesSubmitted, UInt64(submitted))
        XCTAssertEqual(socket.bytesToKernel + UInt64(socket.queuedBytes), UInt64(submitted))
        let acknowledged = try XCTUnwrap(socket.bytesAcknowledged)
        XCTAssertLessThanOrEqual(acknowledged, socket.bytesToKernel)
        XCTAssertGreaterThan(acknowledged, 0)

        // Nothing read: once the peer's window is shut (its buffer full,
        // bytes waiting in this kernel), the edge stays where it is.
        var standing: UInt64 = 0
        try spin(loop, "window shut") {
            let before = socket.readPosition ?? 0
            for _ in 0..<20 {
                loop.runOnce(wait: false)
                usleep(500)
            }
            standing = socket.readPosition ?? 0
            return standing == before && (socket.unacknowledgedBytes ?? 0) > 0
        }
        for _ in 0..<20 {
            loop.runOnce(wait: false)
            usleep(500)
        }
        XCTAssertEqual(socket.readPosition, standing, "no reads, no movement")

        // The peer reads 1 MiB: the edge moves.
        var received = try readExactly(peer, 1 << 20, turning: loop)
        try spin(loop, "window edge moved") { (socket.readPosition ?? 0) > standing }

        socket.shutdownWrites()
        XCTAssertFalse(socket.send(chunk), "nothing after the shutdown")
        // The peer reads the rest and sees EOF once the queue is written.
        var scratch = [UInt8](repeating: 0, count: 256 << 10)
        while true {
            loop.runOnce(wait: false)
            let count = read(peer, &scratch, scratch.count)
            if count == 0 { break }
            if count > 0 { received += count } else if errno != EAGAIN { throw TestFailure("read: errno \(errno)") }
        }
        XCTAssertEqual(received, submitted)
        XCTAssertEqual(socket.queuedBytes, 0)
        try spin(loop, "all acknowledged") { socket.bytesAcknowledged == UInt64(submitted) }
        // The peer closes: EOF on this side.
        shutdown(peer, Int32(SHUT_WR))
        try spin(loop, "EOF") { ended }
        socket.close()
    }

    func testSummaryCountsMessagesOfNodesGivenUpOn() throws {
        let catalogue = try MessageCatalogue(path: ServerProcess.repositoryRoot.appendingPathComponent("telemetry_messages.json").path)
        let options = LoadOptions(
            target: try TelemetryTarget(url: "ws://127.0.0.1:9"), nodes: 3, durationSeconds: 1, messagesPerNode: nil,
            rampUpSeconds: 0, seed: 1, namePrefix: "n-", shape: .max, wire: .flat, catalogue: catalogue, mixKinds: nil,
            maxQueuedBytes: 65_536, verifyDatabaseURL: nil, verifyTimeoutSeconds: 60, closeTimeoutSeconds: 2.5, progress: false)
        let stats = RunStatistics(nodesTarget: 3)
        stats.messagesSent = 1_000
        stats.startedMs = 1_000
        stats.lastWriteMs = 2_000
        stats.sendingStoppedMs = 2_000
        stats.stoppedMs = 4_500
        stats.nodeAborted(notSent: 30, unacknowledged: 400)
        stats.nodeAborted(notSent: 0, unacknowledged: 12)
        stats.messagesUnconfirmed = 442
        stats.count(error: "close: timed out")
        stats.count(error: "close: timed out")
        let report = RunReport(options: options, stats: stats, verification: nil, failure: nil)
        XCTAssertEqual(report.possiblyLost, 442)
        XCTAssertTrue(report.text.contains("close: gave up on 2 nodes after 2.5s in which the server read nothing (--close-timeout): "
            + "442 of their messages may not have arrived: 30 never handed to the kernel (not counted as sent), "
            + "412 handed to it (counted as sent) but not acknowledged by the server's TCP"), report.text)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        let close = try XCTUnwrap(json["close"] as? [String: Any])
        XCTAssertEqual(close["timeout_seconds"] as? Double, 2.5)
        XCTAssertEqual(close["seconds"] as? Double, 2.5)
        XCTAssertEqual(close["aborted_nodes"] as? Int, 2)
        XCTAssertEqual(close["possibly_lost"] as? Int, 442)
        XCTAssertEqual(close["not_sent"] as? Int, 30)
        XCTAssertEqual(close["sent_unacknowledged"] as? Int, 412)
        XCTAssertEqual(close["interrupted"] as? Bool, false)
        XCTAssertEqual(json["unconfirmed"] as? Int, 442)
        XCTAssertEqual(json["errors"] as? [String: Int], ["close: timed out": 2])
    }

    // MARK: helpers

    /// Turns the loop until `condition` holds (at most 10 s).
    private func spin(_ loop: EventLoop, _ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            guard Date() < deadline else { throw TestFailure("timed out: \(what)") }
            if !loop.runOnce(wait: false) { usleep(1_000) } else { usleep(200) }
        }
    }

    /// Reads `count` bytes, turning the loop while none are there (so that
    /// the socket's queue keeps going to the kernel).
    private func readExactly(_ fd: Int32, _ count: Int, turning loop: EventLoop) throws -> Int {
        var scratch = [UInt8](repeating: 0, count: 64 << 10)
        var total = 0
        while total < count {
            let got = read(fd, &scratch, min(scratch.count, count - total))
            if got > 0 {
                total += got
            } else if got < 0 && errno == EAGAIN {
                loop.runOnce(wait: false)
                usleep(200)
            } else {
                throw TestFailure("read: \(got), errno \(errno)")
            }
        }
        return total
    }
}

/// A listening socket on 127.0.0.1 whose accepted connections are plain
/// non-blocking descriptors the test reads (or not) as it pleases.
private final class LoopbackListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 4) == 0 else {
            close(fd)
            throw TestFailure("bind/listen: errno \(errno)")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }

    func accept() throws -> Int32 {
        let peer = Glibc.accept(fd, nil, nil)
        guard peer >= 0 else { throw TestFailure("accept: errno \(errno)") }
        _ = fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) | O_NONBLOCK)
        return peer
    }
}
