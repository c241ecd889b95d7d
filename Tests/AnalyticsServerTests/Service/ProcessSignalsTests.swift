import Foundation
@testable import TestSupport
import XCTest

/// The running server ignores SIGPIPE: a node that resets its connection
/// while the server writes to it must not take the process down.
final class ProcessSignalsTests: ServerTestCase {
    func testSIGPIPEIsIgnored() throws {
        let status = try String(contentsOfFile: "/proc/\(server.process.processIdentifier)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("SigIgn:") })
        let mask = try XCTUnwrap(UInt64(line.split(separator: "\t").last.map(String.init) ?? "", radix: 16))
        XCTAssertNotEqual(mask & (1 << (UInt64(SIGPIPE) - 1)), 0, "SIGPIPE not ignored: \(line)")
    }

    func testAPeerThatResetsWhileTheServerWritesLeavesItRunning() throws {
        // Many requests whose answers are never read, then a reset (linger
        // 0): the server's writes hit a dead socket.
        let descriptors = { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(self.server.process.processIdentifier)/fd").count) ?? 0 }
        let before = descriptors()
        for _ in 0..<20 {
            let client = try RawClient(port: server.port)
            try client.send(String(repeating: "GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n", count: 50))
            client.resetOnClose()
        }
        // Done with all 20 once it holds no more descriptors than before.
        eventually(60, "every reset connection closed") { !self.server.process.isRunning || descriptors() <= before }
        XCTAssertTrue(server.process.isRunning)
        XCTAssertEqual(try server.get("/healthz").status, 200)
    }
}
