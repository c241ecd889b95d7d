@testable import TestSupport
import XCTest

/// HTTP/1.1 behaviour over real sockets against the real server.
final class HTTPLimitsTests: ServerTestCase {
    func testUnknownRouteWrongMethodAndJSONErrors() throws {
        let missing = try server.get("/nope")
        XCTAssertEqual(missing.status, 404)
        XCTAssertTrue(missing.body.contains("\"error\""))
        let client = try RawClient(port: server.port)
        try client.send("POST /stats/version HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        let (status, headers) = try client.readHTTPHead()
        XCTAssertEqual(status, 405)
        XCTAssertEqual(headers["allow"], "GET")
        XCTAssertEqual(headers["content-type"], "application/json")
    }

    func testKeepAliveAndPipelinedRequestsAnswerInOrder() throws {
        let client = try RawClient(port: server.port)
        try client.send("GET /stats/version HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz/ HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readHTTPResponse().status, 200)
        XCTAssertEqual(try client.readHTTPResponse().status, 404)
        let third = try client.readHTTPResponse()
        XCTAssertEqual(third.status, 200, "a trailing slash names the same route")
        XCTAssertTrue(third.body.contains("alive"))
    }

    func testOversizedHeadIs431() throws {
        let client = try RawClient(port: server.port)
        try client.send("GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 17 * 1024))\r\n\r\n")
        XCTAssertEqual(try client.readHTTPResponse().status, 431)
    }

    /// The limit holds however the head is split into reads (http-parser's
    /// own check depends on the split; the server counts the head itself).
    func testOversizedHeadSentInPiecesIs431() throws {
        let client = try RawClient(port: server.port)
        try client.send("GET / HTTP/1.1\r\nX-Big: ")
        // The server answers as soon as the limit is passed and closes, so
        // later pieces may find the connection gone.
        for _ in 0..<17 {
            guard (try? client.send(String(repeating: "a", count: 1024))) != nil else { break }
            usleep(20_000)
        }
        XCTAssertEqual(try client.readHTTPResponse().status, 431)
    }

    func testOversizedBodyIs413AndChunkedIs411() throws {
        let big = try RawClient(port: server.port)
        try big.send("POST /stats/version HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        let response = try big.readHTTPResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertTrue(response.body.contains("4096"))
        let chunked = try RawClient(port: server.port)
        try chunked.send("POST /stats/version HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        XCTAssertEqual(try chunked.readHTTPResponse().status, 411)
    }

    func testMalformedRequestIs400() throws {
        let client = try RawClient(port: server.port)
        try client.send("THIS IS NOT HTTP\r\n\r\n")
        XCTAssertEqual(try client.readHTTPResponse().status, 400)
        let badEscape = try RawClient(port: server.port)
        try badEscape.send("GET /nodes?x=%zz HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try badEscape.readHTTPResponse().status, 400)
    }

    func testSlowLorisIsDisconnected() throws {
        let slow = try startServer(["CLIENT_TIMEOUT_S": "1"])
        let client = try RawClient(port: slow.port)
        try client.send("GET /stats/version HTTP/1.1\r\nHost:")
        // Closed, not held: within the client's 10 s receive timeout (the
        // close time itself depends on how busy the machine is).
        XCTAssertTrue(client.isClosedByPeer())
    }

    func testStaticFilesStayInsideAssetsPath() throws {
        XCTAssertEqual(try server.get("/dashboard/").status, 200)
        for attempt in ["/dashboard/../Package.swift", "/dashboard/..%2f..%2fPackage.swift", "/dashboard/%2e%2e/Package.swift"] {
            XCTAssertEqual(try server.get(attempt).status, 404, attempt)
        }
    }

    func testMetricsIsPrometheusText() throws {
        let client = try RawClient(port: server.port)
        try client.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let (status, headers) = try client.readHTTPHead()
        XCTAssertEqual(status, 200)
        XCTAssertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
    }
}
