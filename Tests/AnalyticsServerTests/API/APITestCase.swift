import Foundation
@testable import TestSupport
import XCTest

/// A server on its own database, telemetry sent through real WebSockets,
/// and JSON requests against the API.
class APITestCase: ServerTestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "10"] }
    /// Node sockets stay open for the whole test (a closed socket is fine
    /// too, but keeping them mirrors real nodes).
    private var nodes: [RawClient] = []

    /// Connects a node that announces `peerID` and sends `messages` (JSON
    /// objects without the `ts`, which is taken from the pair).
    @discardableResult
    func ingest(peerID: String, name: String, path: String = "/",
                messages: [(ts: String, json: String)]) throws -> RawClient {
        let client = try RawClient(port: server.port)
        XCTAssertEqual(try client.upgrade(path: path), 101)
        let first = messages.first?.ts ?? "2026-01-01T00:00:00Z"
        try client.sendText(#"{"msg":"system.connected","ts":"\#(first)","network_id":"\#(peerID)","name":"\#(name)","chain":"Tetcore","version":"1.0","authority":false,"startup_time":"1700000000000","implementation":"tetcore-node"}"#)
        for message in messages {
            let body = message.json.dropFirst()
            try client.sendText(#"{"ts":"\#(message.ts)","# + body)
        }
        nodes.append(client)
        return client
    }

    func waitForRows(_ count: Int) {
        eventually(60, "\(count) rows stored") { self.count("SELECT count(*) FROM tetcore_logs") == count }
    }

    /// Sends one request on a fresh connection.
    func request(_ method: String, _ target: String, body: String? = nil,
                 contentType: String? = "application/json") throws -> (status: Int, body: String) {
        let client = try RawClient(port: server.port)
        var head = "\(method) \(target) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        if let body { head += "Content-Length: \(body.utf8.count)\r\n" }
        try client.send(head + "\r\n" + (body ?? ""))
        return try client.readHTTPResponse()
    }

    /// GET expecting 200; the body parsed as JSON.
    func getJSON(_ target: String, file: StaticString = #filePath, line: UInt = #line) throws -> Any {
        let response = try request("GET", target, contentType: nil)
        XCTAssertEqual(response.status, 200, "\(target): \(response.body)", file: file, line: line)
        return try JSONSerialization.jsonObject(with: Data(response.body.utf8), options: [.fragmentsAllowed])
    }

    func getArray(_ target: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        guard let array = try getJSON(target, file: file, line: line) as? [[String: Any]] else {
            throw TestFailure("\(target) did not answer an array of objects")
        }
        return array
    }

    /// Asserts an error answer: status and the exact `{"error": …}` message.
    func assertError(_ method: String, _ target: String, body: String? = nil, contentType: String? = "application/json",
                     _ status: Int, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let response = try request(method, target, body: body, contentType: contentType)
        XCTAssertEqual(response.status, status, "\(method) \(target)", file: file, line: line)
        let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: String]
        XCTAssertEqual(object, ["error": message], "\(method) \(target)", file: file, line: line)
    }

    /// A UTC time `secondsAgo` before now, as RFC 3339 with microseconds.
    static func recent(_ secondsAgo: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date().addingTimeInterval(-secondsAgo))
    }
}
