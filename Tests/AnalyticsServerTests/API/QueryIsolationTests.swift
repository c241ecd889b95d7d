@testable import TestSupport
import XCTest

/// API queries have their own connections: while every one of them waits
/// on a lock, telemetry is still stored.
final class QueryIsolationTests: APITestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "10", "DB_QUERY_POOL_SIZE": "1", "DB_POOL_SIZE": "1"] }

    func testIngestionGoesOnWhileAPIQueriesAreBlocked() throws {
        let lock = try database.holdLock(on: "host_systems")
        defer { lock.release() }
        let waiting = try (0..<5).map { _ -> RawClient in
            let client = try RawClient(port: server.port)
            try client.send("GET /host_systems HTTP/1.1\r\nHost: t\r\n\r\n")
            return client
        }
        eventually(60, "the API queries wait on the lock") {
            self.lockWaiters(on: "host_systems") >= 1
        }
        try ingest(peerID: "Busy", name: "b", messages: (0..<20).map { ("2026-01-01T00:00:\(String(format: "%02d", $0))Z", #"{"msg":"m"}"#) })
        waitForRows(21)
        XCTAssertEqual(lockWaiters(on: "host_systems"), 1,
                       "the API query is still waiting while the rows were stored")
        lock.release()
        for client in waiting {
            let response = try client.readHTTPResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.body, "[]")
        }
    }
}
