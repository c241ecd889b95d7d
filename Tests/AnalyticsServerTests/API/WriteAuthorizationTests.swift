@testable import AnalyticsServer
@testable import TestSupport
import XCTest

/// API_TOKEN: the write endpoints need the bearer token, reads do not.
final class WriteAuthorizationTests: APITestCase {
    override var extraEnvironment: [String: String] { super.extraEnvironment.merging(["API_TOKEN": "s3cret-token"]) { $1 } }

    private let hostSystem = #"{"description":"d","os":"linux","cpu_qty":2,"cpu_clock":3000,"ram_mb":4096,"disk_info":"ssd"}"#

    private func post(_ path: String, _ body: String, authorization: String?) throws -> (status: Int, body: String) {
        let client = try RawClient(port: server.port)
        let auth = authorization.map { "Authorization: \($0)\r\n" } ?? ""
        try client.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\(auth)"
                        + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        return try client.readHTTPResponse()
    }

    func testWritesWithoutTheRightTokenGet401AndStoreNothing() throws {
        for authorization in [nil, "Bearer wrong", "Bearer s3cret-toke", "Basic s3cret-token", "Bearer s3cret-token2"] as [String?] {
            let answer = try post("/host_systems", hostSystem, authorization: authorization)
            XCTAssertEqual(answer.status, 401, String(describing: authorization))
            XCTAssertTrue(answer.body.contains("API_TOKEN"), answer.body)
        }
        XCTAssertEqual(try post("/benchmarks/events", #"{"benchmark_id":1,"name":"n","phase":"p"}"#, authorization: nil).status, 401)
        XCTAssertEqual(count("SELECT count(*) FROM host_systems"), 0)
    }

    func testTheRightTokenWritesAndReadsNeedNone() throws {
        let answer = try post("/host_systems", hostSystem, authorization: "bearer s3cret-token")
        XCTAssertEqual(answer.status, 200, answer.body)
        XCTAssertEqual(count("SELECT count(*) FROM host_systems"), 1)
        XCTAssertEqual(try server.get("/host_systems").status, 200)
    }

    func testComparisonIsExactWhateverTheLengths() {
        XCTAssertTrue(WriteAuthorization.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(WriteAuthorization.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        XCTAssertFalse(WriteAuthorization.constantTimeEqual([], Array("a".utf8)))
        XCTAssertFalse(WriteAuthorization.constantTimeEqual(Array("abd".utf8), Array("abc".utf8)))
    }
}
