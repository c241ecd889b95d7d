@testable import TestSupport
import XCTest

/// RFC 6455 behaviour of the telemetry endpoint, from a separate process
/// (this test) over real sockets.
final class WebSocketConformanceTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["WS_MAX_PAYLOAD": "1000", "HEARTBEAT_INTERVAL": "1"] }

    func testHandshakeAcceptKeyAndRefusals() throws {
        let client = try RawClient(port: server.port)
        try client.send(RawClient.upgradeRequest())
        let (status, headers) = try client.readHTTPHead()
        XCTAssertEqual(status, 101)
        XCTAssertEqual(headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

        let noKey = try RawClient(port: server.port)
        try noKey.send(RawClient.upgradeRequest(key: nil))
        XCTAssertEqual(try noKey.readHTTPResponse().status, 400)
        let badKey = try RawClient(port: server.port)
        try badKey.send(RawClient.upgradeRequest(key: "short"))
        XCTAssertEqual(try badKey.readHTTPResponse().status, 400)
        let oldVersion = try RawClient(port: server.port)
        try oldVersion.send(RawClient.upgradeRequest(path: "/audit", version: "8"))
        let (versionStatus, versionHeaders) = try oldVersion.readHTTPHead()
        XCTAssertEqual(versionStatus, 426)
        XCTAssertEqual(versionHeaders["sec-websocket-version"], "13")
    }

    private func connected() throws -> RawClient {
        let client = try RawClient(port: server.port)
        XCTAssertEqual(try client.upgrade(), 101)
        return client
    }

    func testProtocolViolationsCloseWith1002() throws {
        let cases: [(String, [UInt8])] = [
            ("unmasked frame", [0x81, 0x02, 0x7B, 0x7D]),
            ("reserved bit", RawClient.frame(opcode: 0x41, [])),
            ("reserved opcode", RawClient.frame(opcode: 0x3, [])),
            ("fragmented ping", RawClient.frame(opcode: 0x9, [], fin: false)),
            ("oversized ping", RawClient.frame(opcode: 0x9, [UInt8](repeating: 0, count: 126))),
            ("continuation without start", RawClient.frame(opcode: 0x0, [0x41])),
            ("one-byte close", RawClient.frame(opcode: 0x8, [0x03])),
            ("invalid close code", RawClient.frame(opcode: 0x8, [0x03, 0xED])),
        ]
        for (name, bytes) in cases {
            let client = try connected()
            try client.send(bytes)
            XCTAssertEqual(try client.readCloseCode(), 1002, name)
            XCTAssertTrue(client.isClosedByPeer(), name)
        }
        let interleaved = try connected()
        try interleaved.send(RawClient.frame(opcode: 0x1, [0x61], fin: false) + RawClient.frame(opcode: 0x1, [0x62]))
        XCTAssertEqual(try interleaved.readCloseCode(), 1002, "new data frame inside a fragmented message")
    }

    func testInvalidUTF8Closes1007AndOversizeCloses1009() throws {
        let utf8 = try connected()
        try utf8.send(RawClient.frame(opcode: 0x1, [0xC0, 0x80]))
        XCTAssertEqual(try utf8.readCloseCode(), 1007)
        let reason = try connected()
        try reason.send(RawClient.frame(opcode: 0x8, [0x03, 0xE8, 0xFF]))
        XCTAssertEqual(try reason.readCloseCode(), 1007)
        let big = try connected()
        // Declares 2^40 bytes: refused from the header, nothing buffered.
        try big.send([0x82, 0xFF, 0, 0, 0x01, 0, 0, 0, 0, 0, 1, 2, 3, 4])
        XCTAssertEqual(try big.readCloseCode(), 1009)
    }

    func testPingPongCloseEchoAndServerHeartbeat() throws {
        let client = try connected()
        try client.send(RawClient.frame(opcode: 0x9, Array("hi".utf8)))
        var frame = try client.readFrame()
        while frame.opcode == 0x9 { frame = try client.readFrame() } // skip server pings
        XCTAssertEqual(frame.opcode, 0xA)
        XCTAssertEqual(frame.payload, Array("hi".utf8))
        // The server pings every HEARTBEAT_INTERVAL (1 s here).
        let started = Date()
        var sawPing = false
        while !sawPing && Date().timeIntervalSince(started) < 30 { sawPing = try client.readFrame().opcode == 0x9 }
        XCTAssertTrue(sawPing)
        try client.send(RawClient.frame(opcode: 0x8, [0x03, 0xE8]))
        XCTAssertEqual(try client.readCloseCode(), 1000, "the close code is echoed")
        XCTAssertTrue(client.isClosedByPeer())
    }

    func testFragmentedAndByteByByteMessagesAreStored() throws {
        let client = try connected()
        let message = Array(#"{"msg":"a","ts":"2026-01-01T00:00:00Z"}"#.utf8)
        try client.send(RawClient.frame(opcode: 0x1, Array(message[0..<10]), fin: false)
                        + RawClient.frame(opcode: 0x9, [])
                        + RawClient.frame(opcode: 0x0, Array(message[10...])))
        for byte in RawClient.frame(opcode: 0x2, message) {
            try client.send([byte])
        }
        eventually(60, "both messages stored") { self.count("SELECT count(*) FROM tetcore_logs") == 2 }
    }

    /// A frame whose header arrives in one read and payload in later ones
    /// (regression: the server used to abort on an exclusivity violation).
    func testFrameSplitAcrossReadsAfterItsHeader() throws {
        let client = try connected()
        let message = Array(#"{"msg":"split","ts":"2026-01-01T00:00:00Z","pad":"0123456789"}"#.utf8)
        let frame = RawClient.frame(opcode: 0x1, message)
        for part in [frame[0..<1], frame[1..<10], frame[10..<30], frame[30...]] {
            try client.send(Array(part))
            usleep(100_000)
        }
        try client.sendText(#"{"msg":"after","ts":"2026-01-01T00:00:00Z"}"#)
        eventually(60, "both messages stored") { self.count("SELECT count(*) FROM tetcore_logs") == 2 }
        XCTAssertTrue(server.process.isRunning)
    }

    func testSilentClientIsClosed() throws {
        let quick = try startServer(["CLIENT_TIMEOUT_S": "1", "HEARTBEAT_INTERVAL": "5"])
        let client = try RawClient(port: quick.port)
        XCTAssertEqual(try client.upgrade(), 101)
        // Closed, not held: within the client's 10 s receive timeout (the
        // close time itself depends on how busy the machine is).
        XCTAssertTrue(client.isClosedByPeer())
    }
}
