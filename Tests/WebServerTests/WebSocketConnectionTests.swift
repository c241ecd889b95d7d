import Glibc
import Reactor
@testable import TestSupport
import XCTest
@testable import WebServer

/// WebSocketConnection without a server: a TCPListener on loopback hands
/// the accepted stream straight to a WebSocketConnection on a real event
/// loop, and a plain socket plays the client, sending masked frames
/// (RawClient.frame) and reading the server's frames without blocking the
/// loop. Close codes as docs/api.md promises them: 1002 protocol error,
/// 1007 invalid UTF-8, 1009 over the message limit (from the header alone).
final class WebSocketConnectionTests: XCTestCase {
    private var loop: EventLoop!
    private var listener: TCPListener!
    private var accepted: [TCPStream] = []
    private var sockets: [WebSocketConnection] = []
    /// Ids of the connections whose onClosed ran, in order.
    private var ended: [UInt64] = []

    override func setUpWithError() throws {
        loop = EventLoop()
        listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0, backlog: 16) { [unowned self] stream in
            self.accepted.append(stream)
        }
    }

    override func tearDown() {
        for socket in sockets where socket.state != .closed { socket.abort(code: 1006) }
        accepted.forEach { $0.close() }
        listener.close()
        sockets = []
        accepted = []
        listener = nil
        loop.runOnce(wait: false)
        loop = nil
    }

    // MARK: Harness

    /// Connects a client and wraps the accepted stream in a started
    /// WebSocketConnection whose delegate records everything.
    private func open(maxMessageBytes: Int = 64 * 1024, lingerMs: UInt64 = 2000, initial: [UInt8] = [],
                      pausedAtStart: WebSocketConnection.PauseReason? = nil,
                      file: StaticString = #filePath, line: UInt = #line) throws -> (WebSocketConnection, Peer, Recorder) {
        let peer = try Peer(port: listener.port)
        let before = accepted.count
        LoopRunner.run(loop, file: file, line: line) { self.accepted.count > before }
        let id = UInt64(sockets.count + 1)
        let socket = WebSocketConnection(id: id, stream: accepted[before], loop: loop, peerAddress: "127.0.0.1:test",
                                         maxMessageBytes: maxMessageBytes, lingerMs: lingerMs)
        let recorder = Recorder()
        socket.delegate = recorder
        socket.onClosed = { [unowned self] in self.ended.append($0.id) }
        sockets.append(socket)
        if let pausedAtStart { socket.pauseReading(pausedAtStart) }
        socket.start(initial: initial)
        return (socket, peer, recorder)
    }

    /// Runs the loop until the client holds one whole server frame.
    private func nextFrame(_ peer: Peer, file: StaticString = #filePath, line: UInt = #line) -> Frame? {
        var frame: Frame?
        LoopRunner.run(loop, file: file, line: line) {
            peer.pump()
            frame = peer.takeFrame()
            return frame != nil || peer.ended
        }
        if frame == nil { XCTFail("the connection ended before a frame (\(peer.endedBy))", file: file, line: line) }
        return frame
    }

    /// Runs the loop until the server has closed the TCP connection.
    private func awaitEnd(_ peer: Peer, file: StaticString = #filePath, line: UInt = #line) {
        LoopRunner.run(loop, file: file, line: line) {
            peer.pump()
            return peer.ended
        }
    }

    private func awaitMessages(_ recorder: Recorder, _ count: Int, file: StaticString = #filePath, line: UInt = #line) {
        LoopRunner.run(loop, file: file, line: line) { recorder.messages.count >= count }
    }

    /// Sends a close frame as a client does: masked, code then reason.
    private static func closeFrame(code: UInt16?, reason: [UInt8] = []) -> [UInt8] {
        let payload = code.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] + reason } ?? []
        return RawClient.frame(opcode: 8, payload)
    }

    /// The client sends `bytes`; the server must answer with a close frame
    /// of `code` and `reason`, end the TCP connection, and tell the
    /// delegate exactly once, with no message delivered.
    private func assertFails(with code: UInt16, reason: String, sending bytes: [UInt8], maxMessageBytes: Int = 64 * 1024,
                             name: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
        let (socket, peer, recorder) = try open(maxMessageBytes: maxMessageBytes, file: file, line: line)
        try peer.client.send(bytes)
        let frame = nextFrame(peer, file: file, line: line)
        XCTAssertEqual(frame?.opcode, 8, name, file: file, line: line)
        XCTAssertEqual(frame?.closeCode, code, name, file: file, line: line)
        XCTAssertEqual(frame?.closeReason, reason, name, file: file, line: line)
        awaitEnd(peer, file: file, line: line)
        XCTAssertEqual(peer.received, [], "\(name): nothing after the close frame", file: file, line: line)
        XCTAssertEqual(peer.endedBy, "EOF", name, file: file, line: line)
        XCTAssertEqual(recorder.texts, [], name, file: file, line: line)
        XCTAssertEqual(recorder.closeCodes, [code], name, file: file, line: line)
        XCTAssertEqual(socket.state, .closed, name, file: file, line: line)
        XCTAssertEqual(ended, [socket.id], name, file: file, line: line)
        XCTAssertNil(socket.delegate, "\(name): the delegate is let go once the connection is over", file: file, line: line)
    }

    // MARK: Messages

    func testTextAndBinaryMessagesAreDeliveredWholeWithTheirKind() throws {
        let (_, peer, recorder) = try open()
        try peer.client.sendText("{\"msg\":\"system.connected\"}")
        try peer.client.send(RawClient.frame(opcode: 2, [0, 1, 0xFE, 0xFF]))
        try peer.client.send(RawClient.frame(opcode: 1, []))
        try peer.client.sendText("wörld ✓")
        awaitMessages(recorder, 4)
        XCTAssertEqual(recorder.messages.map(\.isText), [true, false, true, true])
        XCTAssertEqual(recorder.messages.map(\.bytes), [Array("{\"msg\":\"system.connected\"}".utf8), [0, 1, 0xFE, 0xFF], [],
                                                        Array("wörld ✓".utf8)])
        XCTAssertEqual(recorder.closeCodes, [])
    }

    func testAMessageLongerThanOneReadIsDeliveredOnceWhole() throws {
        // 64-bit length form, and more than the loop's 256 KiB read buffer.
        let big = (0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let medium = [UInt8](repeating: 0x61, count: 1000) // 16-bit length form
        let (_, peer, recorder) = try open(maxMessageBytes: 1 << 20)
        peer.push(RawClient.frame(opcode: 2, big) + RawClient.frame(opcode: 1, medium), loop: loop)
        awaitMessages(recorder, 2)
        LoopRunner.run(loop, for: 0.05)
        XCTAssertEqual(recorder.messages.count, 2)
        XCTAssertEqual(recorder.messages.first?.bytes.count, big.count)
        XCTAssertTrue(recorder.messages.first?.bytes == big, "the payload is unmasked in full")
        XCTAssertEqual(recorder.messages.last?.bytes, medium)
        XCTAssertEqual(recorder.messages.map(\.isText), [false, true])
    }

    func testAFrameSentByteByByteIsDeliveredOnlyWhenComplete() throws {
        let (_, peer, recorder) = try open()
        peer.setNoDelay()
        let frame = RawClient.frame(opcode: 1, Array("trickled".utf8))
        for (index, byte) in frame.enumerated() {
            try peer.client.send([byte])
            for _ in 0..<3 { loop.runOnce(wait: false) }
            if index < frame.count - 1 { XCTAssertEqual(recorder.texts, [], "after byte \(index)") }
        }
        awaitMessages(recorder, 1)
        XCTAssertEqual(recorder.texts, ["trickled"])
    }

    func testBytesThatCameWithTheUpgradeAreDecodedFirst() throws {
        let first = RawClient.frame(opcode: 1, Array("early".utf8))
        let second = RawClient.frame(opcode: 1, Array("split".utf8))
        // A whole frame and the first half of another arrived with the request.
        let (_, peer, recorder) = try open(initial: first + second[0..<5])
        XCTAssertEqual(recorder.texts, ["early"], "decoded in start(), before any read")
        try peer.client.send(Array(second[5...]))
        awaitMessages(recorder, 2)
        XCTAssertEqual(recorder.texts, ["early", "split"])
    }

    func testFragmentedMessagesAreReassembledWithControlFramesBetweenTheFragments() throws {
        let (_, peer, recorder) = try open()
        // "Hello wörld": the ö (C3 B6) is split across two fragments.
        try peer.client.send(RawClient.frame(opcode: 1, Array("Hel".utf8), fin: false))
        try peer.client.send(RawClient.frame(opcode: 0, Array("lo w".utf8) + [0xC3], fin: false))
        try peer.client.send(RawClient.frame(opcode: 9, Array("mid".utf8)))
        try peer.client.send(RawClient.frame(opcode: 0, [0xB6] + Array("rld".utf8), fin: true))
        try peer.client.send(RawClient.frame(opcode: 2, [1, 2], fin: false))
        try peer.client.send(RawClient.frame(opcode: 0, [], fin: false))
        try peer.client.send(RawClient.frame(opcode: 0, [3], fin: true))
        try peer.client.sendText("after")
        awaitMessages(recorder, 3)
        XCTAssertEqual(recorder.messages.map(\.isText), [true, false, true])
        XCTAssertEqual(recorder.messages.map(\.bytes), [Array("Hello wörld".utf8), [1, 2, 3], Array("after".utf8)])
        let pong = nextFrame(peer)
        XCTAssertEqual(pong?.opcode, 0xA, "the ping between fragments is answered")
        XCTAssertEqual(pong?.payload, Array("mid".utf8))
    }

    // MARK: Ping and pong

    func testAPingIsAnsweredWithAPongCarryingItsPayloadAndIsNoMessage() throws {
        let (socket, peer, recorder) = try open()
        try peer.client.send(RawClient.frame(opcode: 9, Array("are you there".utf8)))
        let pong = nextFrame(peer)
        XCTAssertEqual(pong?.opcode, 0xA)
        XCTAssertEqual(pong?.fin, true)
        XCTAssertEqual(pong?.payload, Array("are you there".utf8))
        // A pong from the client is not a message either.
        try peer.client.send(RawClient.frame(opcode: 0xA, [7]))
        try peer.client.sendText("x")
        awaitMessages(recorder, 1)
        XCTAssertEqual(recorder.texts, ["x"])
        XCTAssertEqual(socket.state, .open)
    }

    func testPingsInOneReadGetOnePongForTheFirstAndOneForTheLatest() throws {
        // At most one pong waits in the write queue; RFC 6455 §5.5.3 lets a
        // pong answer only the latest ping.
        let (_, peer, _) = try open()
        try peer.client.send(RawClient.frame(opcode: 9, [1]) + RawClient.frame(opcode: 9, [2]) + RawClient.frame(opcode: 9, [3]))
        let first = nextFrame(peer), second = nextFrame(peer)
        XCTAssertEqual(first?.opcode, 0xA)
        XCTAssertEqual(first?.payload, [1])
        XCTAssertEqual(second?.opcode, 0xA)
        XCTAssertEqual(second?.payload, [3])
        try peer.client.send(Self.closeFrame(code: 1000))
        let close = nextFrame(peer)
        XCTAssertEqual(close?.opcode, 8, "no third pong")
        XCTAssertEqual(close?.closeCode, 1000)
    }

    func testSendTextAndSendBinaryWriteOneUnmaskedFrameEach() throws {
        let (socket, peer, _) = try open()
        var written = 0
        Array("to the client".utf8).withUnsafeBytes { socket.sendText($0, written: { written += 1 }) }
        [UInt8]([9, 8, 7]).withUnsafeBytes { socket.sendBinary($0) }
        let text = nextFrame(peer), binary = nextFrame(peer)
        XCTAssertEqual(text?.opcode, 1)
        XCTAssertEqual(text?.fin, true)
        XCTAssertEqual(text?.masked, false, "server frames are not masked")
        XCTAssertEqual(text?.payload, Array("to the client".utf8))
        XCTAssertEqual(binary?.opcode, 2)
        XCTAssertEqual(binary?.payload, [9, 8, 7])
        LoopRunner.run(loop) { written == 1 }
    }

    /// A socket paused before it starts (backpressure at the upgrade) reads
    /// nothing: the kernel keeps the bytes until the pause ends.
    func testASocketPausedBeforeItStartsReadsNothingUntilResumed() throws {
        let (socket, peer, recorder) = try open(pausedAtStart: .first)
        for index in 0..<50 { try peer.client.send(RawClient.frame(opcode: 1, Array("message \(index)".utf8))) }
        // The peer stops sending. A socket that read past its pause would
        // see this end now and drop the 50 messages it holds undecoded.
        shutdown(peer.client.fd, Int32(SHUT_WR))
        var turns = 0
        LoopRunner.run(loop) { turns += 1; return turns > 200 }
        XCTAssertEqual(recorder.texts, [])
        XCTAssertEqual(ended, [], "the end of the stream waits in the kernel behind the messages")
        XCTAssertTrue(socket.isPausedByServer)
        socket.resumeReading(.first)
        LoopRunner.run(loop) { recorder.texts.count == 50 }
        XCTAssertEqual(recorder.texts.first, "message 0")
        XCTAssertEqual(recorder.texts.last, "message 49")
    }

    func testAHeartbeatPingIsEmptyAndOnlySentWhileOpen() throws {
        let (socket, peer, _) = try open()
        socket.sendPing()
        let ping = nextFrame(peer)
        XCTAssertEqual(ping?.opcode, 9)
        XCTAssertEqual(ping?.payload, [])
        XCTAssertEqual(socket.lastPingMs, loop.nowMilliseconds)
        socket.close(code: 1001)
        XCTAssertEqual(nextFrame(peer)?.opcode, 8)
        socket.sendPing()
        try peer.client.send(Self.closeFrame(code: 1001))
        awaitEnd(peer)
        XCTAssertEqual(peer.received, [], "no ping once closing")
    }

    // MARK: Closing

    func testACloseReasonIsCutToWhatAControlFrameHolds() throws {
        let (_, peer, recorder) = try open()
        let socket = sockets[0]
        socket.fail(code: 1008, reason: String(repeating: "r", count: 200))
        let close = nextFrame(peer)
        XCTAssertEqual(close?.payload.count, 125, "2 bytes of code and 123 of reason")
        XCTAssertEqual(close?.closeReason, String(repeating: "r", count: 123))
        XCTAssertEqual(recorder.closeCodes, [1008])
    }

    func testACloseFromTheClientIsEchoedWithItsCodeAndEndsTheConnection() throws {
        let (socket, peer, recorder) = try open()
        try peer.client.send(Self.closeFrame(code: 1000, reason: Array("bye".utf8)))
        let close = nextFrame(peer)
        XCTAssertEqual(close?.opcode, 8)
        XCTAssertEqual(close?.payload, [0x03, 0xE8], "the code alone, no reason")
        awaitEnd(peer)
        XCTAssertEqual(peer.endedBy, "EOF")
        XCTAssertEqual(peer.received, [])
        XCTAssertEqual(recorder.closeCodes, [1000])
        XCTAssertEqual(socket.state, .closed)
        XCTAssertEqual(ended, [socket.id])
        XCTAssertEqual(socket.closeCodeForMetrics, 1000)
    }

    func testOtherClientCodesAreEchoedAndNoCodeIsAnsweredWithNoCode() throws {
        for code: UInt16 in [1001, 3000, 4999] {
            let (_, peer, recorder) = try open()
            try peer.client.send(Self.closeFrame(code: code))
            XCTAssertEqual(nextFrame(peer)?.closeCode, code)
            awaitEnd(peer)
            XCTAssertEqual(recorder.closeCodes, [code])
        }
        let (_, peer, recorder) = try open()
        try peer.client.send(Self.closeFrame(code: nil))
        let close = nextFrame(peer)
        XCTAssertEqual(close?.opcode, 8)
        XCTAssertEqual(close?.payload, [], "1005 (no code) is never sent: the echo is empty")
        awaitEnd(peer)
        XCTAssertEqual(recorder.closeCodes, [1005])
    }

    func testAServerCloseWaitsForTheClientsCloseAndStillDeliversDataSentMeanwhile() throws {
        let (socket, peer, recorder) = try open()
        socket.close(code: 1001, reason: "going away")
        XCTAssertEqual(socket.state, .closing)
        let close = nextFrame(peer)
        XCTAssertEqual(close?.closeCode, 1001)
        XCTAssertEqual(close?.closeReason, "going away")
        // What the client had sent before it saw the close (RFC 6455 §5.5.1).
        try peer.client.sendText("in flight")
        try peer.client.send(RawClient.frame(opcode: 9, [1])) // no pong once closing
        try peer.client.send(Self.closeFrame(code: 1001))
        awaitEnd(peer)
        XCTAssertEqual(recorder.texts, ["in flight"])
        XCTAssertEqual(peer.received, [], "neither a pong nor a second close frame")
        XCTAssertEqual(peer.endedBy, "EOF")
        XCTAssertEqual(recorder.closeCodes, [1001])
        XCTAssertEqual(ended, [socket.id])
    }

    func testAServerCloseThatIsNeverAnsweredEndsAfterItsTimeout() throws {
        let (socket, peer, recorder) = try open()
        socket.close(code: 1001, timeoutMs: 50)
        XCTAssertEqual(nextFrame(peer)?.closeCode, 1001)
        XCTAssertEqual(recorder.closeCodes, [], "still waiting for the client's close")
        awaitEnd(peer)
        XCTAssertEqual(recorder.closeCodes, [1001])
        XCTAssertEqual(socket.state, .closed)
        XCTAssertEqual(ended, [socket.id])
        socket.close(code: 1000) // once closed, nothing more happens
        XCTAssertEqual(recorder.closeCodes, [1001])
    }

    func testAClientThatDropsTheConnectionEndsItWith1006() throws {
        let (socket, peer, recorder) = try open()
        try peer.client.sendText("last words")
        peer.shutdownBoth()
        LoopRunner.run(loop) { !recorder.closeCodes.isEmpty }
        XCTAssertEqual(recorder.texts, ["last words"])
        XCTAssertEqual(recorder.closeCodes, [1006])
        XCTAssertEqual(socket.state, .closed)
        XCTAssertEqual(ended, [socket.id])
    }

    func testADelegateThatFailsTheConnectionGetsNoFurtherMessages() throws {
        let (socket, peer, recorder) = try open()
        recorder.onMessage = { socket, _, _ in socket.fail(code: 1008, reason: "policy") }
        // Three messages in one write: the two after the failing one are dropped.
        try peer.client.send(RawClient.frame(opcode: 1, [0x31]) + RawClient.frame(opcode: 1, [0x32]) + RawClient.frame(opcode: 1, [0x33]))
        let close = nextFrame(peer)
        XCTAssertEqual(close?.closeCode, 1008)
        XCTAssertEqual(close?.closeReason, "policy")
        awaitEnd(peer)
        XCTAssertEqual(recorder.texts, ["1"])
        XCTAssertEqual(recorder.closeCodes, [1008])
        XCTAssertEqual(socket.state, .closed)
    }

    // MARK: Failures

    func testAnUnmaskedClientFrameIs1002() throws {
        try assertFails(with: 1002, reason: "protocol error", sending: [0x81, 0x02, 0x68, 0x69])
    }

    func testOtherProtocolViolationsAre1002() throws {
        let cases: [(String, [UInt8])] = [
            ("continuation without a message", RawClient.frame(opcode: 0, [1])),
            ("new message inside a fragmented one", RawClient.frame(opcode: 1, [0x61], fin: false) + RawClient.frame(opcode: 1, [0x62])),
            ("reserved bit", [0xC1] + Array(RawClient.frame(opcode: 1, [0x61]).dropFirst())),
            ("unknown opcode", RawClient.frame(opcode: 3, [])),
            ("fragmented ping", RawClient.frame(opcode: 9, [], fin: false)),
            ("control frame over 125 bytes", RawClient.frame(opcode: 9, [UInt8](repeating: 0, count: 126))),
            ("close code 1005 sent on the wire", Self.closeFrame(code: 1005)),
            ("one-byte close payload", RawClient.frame(opcode: 8, [3])),
            ("length not in its shortest form", [0x81, 0x80 | 126, 0x00, 0x05, 1, 2, 3, 4] + [UInt8](repeating: 0, count: 5)),
        ]
        for (name, bytes) in cases {
            ended = []
            try assertFails(with: 1002, reason: "protocol error", sending: bytes, name: name)
        }
    }

    func testInvalidUTF8InATextMessageIs1007() throws {
        try assertFails(with: 1007, reason: "invalid UTF-8", sending: RawClient.frame(opcode: 1, [0x61, 0xFF]))
    }

    func testOtherInvalidUTF8Is1007() throws {
        let cases: [(String, [UInt8])] = [
            ("a text message ending inside a character", RawClient.frame(opcode: 1, [0x61, 0xC3], fin: false)
                + RawClient.frame(opcode: 0, [0x62])),
            ("an encoded surrogate", RawClient.frame(opcode: 1, [0xED, 0xA0, 0x80])),
            ("a close reason", Self.closeFrame(code: 1000, reason: [0xC0, 0x80])),
        ]
        for (name, bytes) in cases {
            ended = []
            try assertFails(with: 1007, reason: "invalid UTF-8", sending: bytes, name: name)
        }
    }

    func testBinaryMessagesAreNotCheckedForUTF8() throws {
        let (_, peer, recorder) = try open()
        try peer.client.send(RawClient.frame(opcode: 2, [0xFF, 0xC3]))
        awaitMessages(recorder, 1)
        XCTAssertEqual(recorder.messages.first?.bytes, [0xFF, 0xC3])
        XCTAssertEqual(recorder.closeCodes, [])
    }

    func testAMessageOverTheLimitIs1009FromItsHeaderAlone() throws {
        // Only the header of a 1001-byte frame: the payload is never sent,
        // so the decision cannot have waited for it.
        let header: [UInt8] = [0x81, 0x80 | 126, 0x03, 0xE9, 0x11, 0x22, 0x33, 0x44]
        try assertFails(with: 1009, reason: "message too big", sending: header, maxMessageBytes: 1000)
    }

    func testAMessageExactlyAtTheLimitIsDelivered() throws {
        let (_, peer, recorder) = try open(maxMessageBytes: 1000)
        try peer.client.send(RawClient.frame(opcode: 2, [UInt8](repeating: 7, count: 1000)))
        awaitMessages(recorder, 1)
        XCTAssertEqual(recorder.messages.first?.bytes.count, 1000)
        XCTAssertEqual(recorder.closeCodes, [])
    }

    func testAFragmentedMessageOverTheLimitIs1009AtTheFragmentThatCrossesIt() throws {
        // 600 + 400 fit exactly; one more byte does not. Not delivered in part.
        let (_, peer, recorder) = try open(maxMessageBytes: 1000)
        try peer.client.send(RawClient.frame(opcode: 2, [UInt8](repeating: 1, count: 600), fin: false)
            + RawClient.frame(opcode: 0, [UInt8](repeating: 2, count: 400), fin: true))
        awaitMessages(recorder, 1)
        XCTAssertEqual(recorder.messages.first?.bytes.count, 1000)
        ended = []
        try assertFails(with: 1009, reason: "message too big",
                        sending: RawClient.frame(opcode: 2, [UInt8](repeating: 1, count: 600), fin: false)
                            + [0x00, 0x80 | 126, 0x01, 0x91, 0x11, 0x22, 0x33, 0x44], // header of a 401-byte continuation
                        maxMessageBytes: 1000)
    }

    // MARK: Pausing

    func testAPausedConnectionReadsNothingUntilResumed() throws {
        let (socket, peer, recorder) = try open()
        socket.pauseReading(.first)
        XCTAssertTrue(socket.isPausedByServer)
        try peer.client.sendText("held")
        LoopRunner.run(loop, for: 0.2)
        XCTAssertEqual(recorder.texts, [], "nothing is read while paused")
        socket.resumeReading(.first)
        XCTAssertFalse(socket.isPausedByServer)
        awaitMessages(recorder, 1)
        XCTAssertEqual(recorder.texts, ["held"])
    }

    func testReadingResumesOnlyWhenEveryReasonIsGone() throws {
        let (socket, peer, recorder) = try open()
        socket.pauseReading(.first)
        socket.pauseReading(.second)
        try peer.client.sendText("held")
        socket.resumeReading(.second)
        socket.resumeReading(.second) // not paused for it any more: no effect
        LoopRunner.run(loop, for: 0.2)
        XCTAssertEqual(recorder.texts, [], "still paused by backpressure")
        XCTAssertTrue(socket.isPausedByServer)
        socket.resumeReading(.first)
        awaitMessages(recorder, 1)
        XCTAssertEqual(recorder.texts, ["held"])
    }

    func testAPauseFromTheDelegateKeepsTheRestOfTheReadForLaterInOrder() throws {
        let (socket, peer, recorder) = try open()
        recorder.onMessage = { socket, bytes, _ in
            if bytes == [0x31] { socket.pauseReading(.second) }
        }
        // One write: the frames after the first are already read when it pauses.
        try peer.client.send((0x31...0x34).flatMap { RawClient.frame(opcode: 1, [UInt8($0)]) })
        awaitMessages(recorder, 1)
        LoopRunner.run(loop, for: 0.2)
        XCTAssertEqual(recorder.texts, ["1"])
        socket.resumeReading(.second)
        awaitMessages(recorder, 4)
        XCTAssertEqual(recorder.texts, ["1", "2", "3", "4"], "the rest comes on resume, in order")
        try peer.client.sendText("5")
        awaitMessages(recorder, 5)
        XCTAssertEqual(recorder.texts, ["1", "2", "3", "4", "5"], "and reading goes on")
    }
}

// MARK: - Test doubles

/// Records what the connection tells its delegate.
private final class Recorder: WebSocketDelegate {
    struct Message {
        let isText: Bool
        let bytes: [UInt8]
    }

    var messages: [Message] = []
    var closeCodes: [UInt16] = []
    var onMessage: ((WebSocketConnection, [UInt8], Bool) -> Void)?

    var texts: [String] { messages.map { String(decoding: $0.bytes, as: UTF8.self) } }

    func webSocket(_ socket: WebSocketConnection, didReceive payload: UnsafeRawBufferPointer, isText: Bool) {
        let bytes = Array(payload)
        messages.append(Message(isText: isText, bytes: bytes))
        onMessage?(socket, bytes, isText)
    }

    func webSocketDidClose(_ socket: WebSocketConnection, code: UInt16) {
        closeCodes.append(code)
    }
}

/// One server frame as the client sees it.
private struct Frame {
    let fin: Bool
    let opcode: UInt8
    let masked: Bool
    let payload: [UInt8]

    var closeCode: UInt16? {
        guard opcode == 8, payload.count >= 2 else { return nil }
        return UInt16(payload[0]) << 8 | UInt16(payload[1])
    }

    var closeReason: String? {
        guard opcode == 8, payload.count >= 2 else { return nil }
        return String(decoding: payload[2...], as: UTF8.self)
    }
}

/// The client end: RawClient's socket and frame builder, read without
/// blocking so the test can run the server's loop in between.
private final class Peer {
    let client: RawClient
    /// Bytes read and not yet taken as frames.
    private(set) var received: [UInt8] = []
    /// "EOF", "reset" or another error once the server has closed.
    private(set) var endedBy = ""
    var ended: Bool { !endedBy.isEmpty }

    init(port: Int) throws {
        client = try RawClient(port: port)
    }

    func setNoDelay() {
        var on: Int32 = 1
        setsockopt(client.fd, Int32(IPPROTO_TCP), Int32(TCP_NODELAY), &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Reads whatever has arrived, without waiting.
    func pump() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !ended {
            let count = recv(client.fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
            if count > 0 {
                received += chunk[0..<count]
            } else if count == 0 {
                endedBy = "EOF"
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return
            } else {
                endedBy = errno == ECONNRESET ? "reset" : "error \(errno)"
            }
        }
    }

    /// The first whole frame of what has been read, removed from it.
    func takeFrame() -> Frame? {
        guard received.count >= 2 else { return nil }
        let masked = received[1] & 0x80 != 0
        let length7 = Int(received[1] & 0x7F)
        let extra = length7 == 126 ? 2 : length7 == 127 ? 8 : 0
        let headerSize = 2 + extra + (masked ? 4 : 0)
        guard received.count >= headerSize else { return nil }
        let length = extra == 0 ? length7 : received[2..<(2 + extra)].reduce(0) { $0 << 8 | Int($1) }
        guard received.count >= headerSize + length else { return nil }
        var payload = Array(received[headerSize..<(headerSize + length)])
        if masked {
            let mask = Array(received[(headerSize - 4)..<headerSize])
            payload = payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
        }
        let frame = Frame(fin: received[0] & 0x80 != 0, opcode: received[0] & 0x0F, masked: masked, payload: payload)
        received.removeFirst(headerSize + length)
        return frame
    }

    /// Sends `bytes` as the socket takes them, running `loop` meanwhile so
    /// the server reads: a blocking send of more than the socket buffers
    /// hold would wait for a server that cannot run.
    func push(_ bytes: [UInt8], loop: EventLoop) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(client.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if sent > 0 {
                offset += sent
            } else {
                loop.runOnce(wait: false)
            }
        }
    }

    /// Closes the connection in both directions without a close frame.
    func shutdownBoth() {
        shutdown(client.fd, Int32(SHUT_RDWR))
    }
}

/// Two reasons of the test's own: the transport only counts them.
private extension WebSocketConnection.PauseReason {
    static let first = Self("first")
    static let second = Self("second")
}
