@testable import TestSupport
import XCTest

final class BenchmarksAPITests: APITestCase {
    private let hostSystem = #"{"description":"bench box","os":"Debian 12","cpu_qty":8,"cpu_clock":3200,"ram_mb":16384,"disk_info":"NVMe"}"#

    private func post(_ target: String, _ body: String) throws -> [String: Any] {
        let response = try request("POST", target, body: body)
        XCTAssertEqual(response.status, 200, response.body)
        return try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any] ?? [:]
    }

    func testHostSystemsBenchmarksEventsAndTargets() throws {
        let host = try post("/host_systems", hostSystem)
        XCTAssertEqual(host["id"] as? Int, 1)
        XCTAssertEqual(host["ram_mb"] as? Int, 16384)
        XCTAssertEqual(try getArray("/host_systems/").map { $0["description"] as? String }, ["bench box"])

        try ingest(peerID: "BenchNode", name: "n", messages: [
            ("2026-01-01T10:00:00Z", #"{"msg":"a","target":"sync"}"#),
            ("2026-01-01T10:30:00Z", #"{"msg":"b","target":"babe"}"#),
            ("2026-01-01T10:40:00Z", #"{"msg":"c","target":"sync"}"#),
            ("2026-01-01T12:00:00Z", #"{"msg":"d","target":"late"}"#),
        ])
        waitForRows(5)
        let first = try post("/benchmarks", #"{"benchmark_spec":{"tx":100},"chain_spec":{"name":"dev"},"description":"one","host_system_id":1,"ts_start":"2026-01-01T10:00:00","ts_end":"2026-01-01T11:00:00Z","peer_id":"BenchNode"}"#)
        XCTAssertEqual(first["id"] as? Int, 1)
        XCTAssertEqual(first["ts_start"] as? String, "2026-01-01T10:00:00.000000")
        XCTAssertEqual(first["benchmark_spec"] as? [String: Int], ["tx": 100])
        XCTAssertEqual(first["peer_id"] as? String, "BenchNode")
        let second = try post("/benchmarks/", #"{"benchmark_spec":{},"chain_spec":{},"description":"two","host_system_id":1,"ts_start":"2026-01-02T00:00:00","ts_end":"2026-01-02T01:00:00"}"#)
        XCTAssertTrue(second["peer_id"] is NSNull)
        XCTAssertEqual(try getArray("/benchmarks").map { $0["description"] as? String }, ["two", "one"])

        let event = try post("/benchmarks/events", #"{"benchmark_id":1,"name":"load","phase":"start","created_at":"2026-01-01T10:05:00Z"}"#)
        XCTAssertEqual(event["created_at"] as? String, "2026-01-01T10:05:00.000000")
        _ = try post("/benchmarks/events", #"{"benchmark_id":1,"name":"load","phase":"end","created_at":"2026-01-01T10:50:00"}"#)
        XCTAssertEqual(try getArray("/benchmarks/1/events").map { $0["phase"] as? String }, ["start", "end"])
        XCTAssertEqual(try getArray("/benchmarks/2/events/").count, 0)
        XCTAssertEqual(try getArray("/benchmarks/1/targets").map { $0["target"] as? String }, ["babe", "sync"])
        XCTAssertEqual(try getArray("/benchmarks/2/targets").count, 0)
    }

    func testBadBodiesAndUnknownIds() throws {
        try assertError("POST", "/host_systems", body: "{", 400, "request body is not valid JSON")
        try assertError("POST", "/host_systems", body: "[1]", 400, "request body must be a JSON object")
        try assertError("POST", "/host_systems", body: hostSystem, contentType: "text/plain", 415,
                        "Content-Type must be application/json")
        try assertError("POST", "/host_systems", body: hostSystem, contentType: nil, 415, "Content-Type must be application/json")
        try assertError("POST", "/host_systems", body: hostSystem.replacingOccurrences(of: #""os":"Debian 12","#, with: ""),
                        400, "missing required field 'os'")
        try assertError("POST", "/host_systems", body: hostSystem.replacingOccurrences(of: "8,", with: #""8","#),
                        400, "field 'cpu_qty' must be an integer from -2147483648 to 2147483647")
        try assertError("POST", "/host_systems", body: hostSystem.replacingOccurrences(of: "16384", with: "1.5"),
                        400, "field 'ram_mb' must be an integer from -2147483648 to 2147483647")
        let big = #"{"description":""# + String(repeating: "x", count: 4100) + #""}"#
        let tooLarge = try request("POST", "/host_systems", body: big)
        XCTAssertEqual(tooLarge.status, 413)
        XCTAssertTrue(tooLarge.body.hasPrefix(#"{"error":"#), tooLarge.body)

        let benchmark = #"{"benchmark_spec":{},"chain_spec":{},"description":"d","host_system_id":9,"ts_start":"2026-01-01T00:00:00","ts_end":"2026-01-01T01:00:00"}"#
        try assertError("POST", "/benchmarks", body: benchmark, 422, "host_system_id 9 does not exist")
        try assertError("POST", "/benchmarks", body: benchmark.replacingOccurrences(of: "2026-01-01T00:00:00", with: "soon"),
                        400, "field 'ts_start' must be a timestamp such as 2020-03-25T13:17:09.008533 or RFC 3339")
        try assertError("POST", "/benchmarks", body: benchmark.replacingOccurrences(of: #""chain_spec":{}"#, with: #""chain_spec":[]"#),
                        400, "field 'chain_spec' must be a JSON object")
        try assertError("POST", "/benchmarks", body: benchmark.replacingOccurrences(of: #""chain_spec":{}"#, with: #""chain_spec":{"a":["\u0000"]}"#),
                        400, "field 'chain_spec' contains a NUL character")
        try assertError("POST", "/host_systems", body: hostSystem.replacingOccurrences(of: "NVMe", with: #"NV\u0000Me"#),
                        400, "field 'disk_info' contains a NUL character")
        try assertError("POST", "/benchmarks/events", body: #"{"benchmark_id":5,"name":"n","phase":"p"}"#, 422,
                        "benchmark_id 5 does not exist")
        try assertError("POST", "/benchmarks/events", body: #"{"benchmark_id":5,"name":"n"}"#, 400, "missing required field 'phase'")
        try assertError("GET", "/benchmarks/7/events", 404, "benchmark 7 does not exist")
        try assertError("GET", "/benchmarks/7/targets", 404, "benchmark 7 does not exist")
        try assertError("GET", "/benchmarks/abc/events", 400, "path parameter 'id' must be a positive integer")
        try assertError("GET", "/benchmarks/0/targets", 400, "path parameter 'id' must be a positive integer")
        XCTAssertEqual(count("SELECT count(*) FROM host_systems") + count("SELECT count(*) FROM benchmarks"), 0)
    }
}
