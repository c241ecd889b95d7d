import Foundation
@testable import TestSupport
import XCTest

/// While a shutdown drains, the server still answers HTTP so orchestrators
/// and load balancers learn it is going (/readyz 503), refuses new
/// WebSockets with 503, and closes its listener only when the drain is over.
final class DrainTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["SHUTDOWN_TIMEOUT_S": "20"] }

    func testADrainingServerSaysSoAndTakesNoNewNodes() throws {
        let node = try RawClient(port: server.port)
        XCTAssertEqual(try node.upgrade(), 101)
        kill(server.process.processIdentifier, SIGTERM)
        // The node has not answered the server's 1001 yet: the drain waits for it.
        XCTAssertEqual(try node.readCloseCode(), 1001)

        let ready = try server.get("/readyz")
        XCTAssertEqual(ready.status, 503)
        XCTAssertTrue(ready.body.contains(#""shutting_down":true"#), ready.body)
        XCTAssertEqual(try server.get("/healthz").status, 200, "alive while draining")
        let late = try RawClient(port: server.port)
        try late.send(RawClient.upgradeRequest())
        let refused = try late.readHTTPResponse()
        XCTAssertEqual(refused.status, 503)
        XCTAssertTrue(refused.body.contains("shutting down"), refused.body)

        try node.send(RawClient.frame(opcode: 0x8, [0x03, 0xE9]))
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationStatus, 0)
        XCTAssertThrowsError(try RawClient(port: server.port), "the listener is closed once drained")
    }
}
