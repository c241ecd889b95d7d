import Foundation
@testable import TestSupport
import XCTest

/// API requests beyond the gate's bound are refused at once with 503 and
/// Retry-After, the admitted ones still succeed, and ingestion stores
/// everything meanwhile. The API's statements are held by a lock on
/// host_systems, which GET /host_systems reads: a real query kept slow
/// without any test-only route.
final class APIOverloadTests: APITestCase {
    override var extraEnvironment: [String: String] {
        ["DB_SAVE_LATENCY_MS": "10", "DB_QUERY_POOL_SIZE": "1", "API_MAX_QUEUED_REQUESTS": "2", "API_QUEUE_TIMEOUT_MS": "120000"]
    }

    func testRequestsBeyondTheQueueGet503AtOnceWhileQueuedOnesSucceedAndIngestionStoresEverything() throws {
        let lock = try database.holdLock(on: "host_systems")
        defer { lock.release() }
        // Ingestion while the API is saturated, for as long as it lasts.
        let loadgen = try LoadgenProcess([
            "--url", "ws://127.0.0.1:\(server.port)", "--nodes", "20", "--rate", "20", "--messages-per-node", "40",
            "--ramp-up", "1s", "--verify", database.url, "--json",
        ])
        // One request runs (blocked on the lock), two wait: the gate is full.
        let admitted = try (0..<3).map { _ in try sendGet("/host_systems") }
        eventually(60, "one API request running and two queued") {
            try self.metric("tetcore_api_running_requests") == 1 && self.metric("tetcore_api_queued_requests") == 2
        }

        var latencies: [Double] = []
        for _ in 0..<5 {
            let started = Date()
            let client = try sendGet("/host_systems")
            let response = try client.readHTTPResponseWithHeaders()
            latencies.append(Date().timeIntervalSince(started))
            XCTAssertEqual(response.status, 503)
            XCTAssertEqual(response.headers["retry-after"], "1")
            let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: String]
            XCTAssertEqual(object, ["error": "overloaded: API request queue is full (2 waiting)"])
        }
        // The median, so that one scheduling hiccup of a busy machine does
        // not decide; none may come anywhere near a query's time.
        let sorted = latencies.sorted()
        XCTAssertLessThan(sorted[sorted.count / 2], 0.1, "503 latencies \(latencies)")
        XCTAssertLessThan(sorted[sorted.count - 1], 2, "503 latencies \(latencies)")
        // Answers from memory need no slot.
        XCTAssertEqual(try server.get("/chains").status, 200)
        XCTAssertEqual(try server.get("/healthz").status, 200)

        XCTAssertEqual(try loadgen.wait(), 0, loadgen.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(loadgen.stdout.utf8)) as? [String: Any])
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any])
        XCTAssertEqual(verify["stored"] as? Int, 20 * 41)
        XCTAssertEqual(verify["missing"] as? Int, 0)
        XCTAssertEqual(verify["duplicated"] as? Int, 0)
        XCTAssertEqual(try metric("tetcore_api_running_requests"), 1, "the API was still blocked while every row was stored")

        lock.release()
        for client in admitted {
            let response = try client.readHTTPResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.body, "[]")
        }
        XCTAssertEqual(try metric(#"tetcore_api_requests_rejected_total{reason="queue_full"}"#), 5)
        XCTAssertEqual(try metric(#"tetcore_api_requests_rejected_total{reason="queue_timeout"}"#), 0)
        eventually(60, "the gate empty again") {
            try self.metric("tetcore_api_running_requests") == 0 && self.metric("tetcore_api_queued_requests") == 0
        }
    }

    func testARequestThatWaitsPastTheTimeoutGets503InsteadOfRunningLate() throws {
        _ = server.terminate(signal: SIGKILL)
        server = try startServer(["API_QUEUE_TIMEOUT_MS": "500"])
        let lock = try database.holdLock(on: "host_systems")
        defer { lock.release() }
        let running = try sendGet("/host_systems")
        eventually(60, "one API request running") { try self.metric("tetcore_api_running_requests") == 1 }

        let started = Date()
        let late = try sendGet("/host_systems")
        let response = try late.readHTTPResponseWithHeaders()
        let waited = Date().timeIntervalSince(started)
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.headers["retry-after"], "1")
        let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: String]
        XCTAssertEqual(object, ["error": "overloaded: API request waited 500 ms for the database"])
        // libuv's timers count whole milliseconds from the loop's cached time.
        XCTAssertGreaterThan(waited, 0.45)
        XCTAssertEqual(try metric(#"tetcore_api_requests_rejected_total{reason="queue_timeout"}"#), 1)
        XCTAssertEqual(lockWaiters(on: "host_systems"), 1,
                       "only the running request reached PostgreSQL")

        lock.release()
        XCTAssertEqual(try running.readHTTPResponse().status, 200, "the running request was not cut short")
    }

    /// Sends a GET on a fresh connection without reading the answer.
    private func sendGet(_ target: String) throws -> RawClient {
        let client = try RawClient(port: server.port)
        try client.send("GET \(target) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        return client
    }

    private func metric(_ series: String) throws -> Double {
        let body = try server.get("/metrics").body
        guard let line = body.split(separator: "\n").first(where: { $0.hasPrefix(series + " ") }),
              let value = Double(line.split(separator: " ").last ?? "") else { throw TestFailure("no \(series) in /metrics") }
        return value
    }
}
