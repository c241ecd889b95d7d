import CLibPQ
@testable import TestSupport
import XCTest

/// API queries have their own connections: while every one of them waits
/// on a lock, telemetry is still stored.
final class QueryIsolationTests: APITestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "10", "DB_QUERY_POOL_SIZE": "1", "DB_POOL_SIZE": "1"] }

    func testIngestionGoesOnWhileAPIQueriesAreBlocked() throws {
        guard let locker = PQconnectdb(database.url), PQstatus(locker) == CONNECTION_OK else {
            throw TestFailure("cannot connect the locking session")
        }
        defer { PQfinish(locker) }
        PQclear(PQexec(locker, "BEGIN; LOCK TABLE host_systems IN ACCESS EXCLUSIVE MODE"))
        let waiting = try (0..<5).map { _ -> RawClient in
            let client = try RawClient(port: server.port)
            try client.send("GET /host_systems HTTP/1.1\r\nHost: t\r\n\r\n")
            return client
        }
        eventually(60, "the API queries wait on the lock") {
            self.count("SELECT count(*) FROM pg_locks WHERE relation = 'host_systems'::regclass AND NOT granted") >= 1
        }
        try ingest(peerID: "Busy", name: "b", messages: (0..<20).map { ("2026-01-01T00:00:\(String(format: "%02d", $0))Z", #"{"msg":"m"}"#) })
        waitForRows(21)
        XCTAssertEqual(count("SELECT count(*) FROM pg_locks WHERE relation = 'host_systems'::regclass AND NOT granted"), 1,
                       "the API query is still waiting while the rows were stored")
        PQclear(PQexec(locker, "COMMIT"))
        for client in waiting {
            let response = try client.readHTTPResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.body, "[]")
        }
    }
}
