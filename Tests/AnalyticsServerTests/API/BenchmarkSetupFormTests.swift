@testable import TestSupport
import XCTest

/// The original code's request forms: `POST /benchmarks {"setup": {...}}`
/// and `GET /benchmarks/example`, beside the README's.
final class BenchmarkSetupFormTests: APITestCase {
    private func post(_ body: String) throws -> [String: Any] {
        let response = try request("POST", "/benchmarks", body: body)
        XCTAssertEqual(response.status, 200, response.body)
        return try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any] ?? [:]
    }

    func testTheExampleCanBePostedAsItIsAndItsSetupComesBack() throws {
        let host = try request("POST", "/host_systems", body: #"{"description":"box","os":"Debian 12","cpu_qty":2,"cpu_clock":2400,"ram_mb":4096,"disk_info":"SSD"}"#)
        XCTAssertEqual(host.status, 200, host.body)
        let example = try request("GET", "/benchmarks/example", contentType: nil)
        XCTAssertEqual(example.status, 200)
        let exampleSetup = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(example.body.utf8)) as? [String: Any])?["setup"] as? [String: Any])

        let stored = try post(example.body)
        XCTAssertEqual(stored["id"] as? Int, 1)
        XCTAssertEqual((stored["setup"] as? NSDictionary), exampleSetup as NSDictionary, "the setup is kept as sent")
        // Its members that name the README's fields fill them.
        XCTAssertEqual(stored["ts_start"] as? String, "2020-03-25T13:00:00.000000")
        XCTAssertEqual(stored["ts_end"] as? String, "2020-03-25T14:00:00.000000")
        XCTAssertEqual(stored["host_system_id"] as? Int, 1)
        XCTAssertEqual(stored["peer_id"] as? String, "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp")
        XCTAssertEqual(stored["description"] as? String, "Block import, 1000 transfers per block")
        XCTAssertNotNil(stored["created_at"] as? String)
        XCTAssertEqual(try getArray("/benchmarks").first?["setup"] as? NSDictionary, exampleSetup as NSDictionary)
    }

    func testASetupThatSaysNothingIsStoredAndItsTargetsAreAllThePeersTargets() throws {
        try ingest(peerID: "SetupNode", name: "n", messages: [
            ("2026-01-01T10:00:00Z", #"{"msg":"a","target":"sync"}"#),
            ("2027-06-01T10:00:00Z", #"{"msg":"b","target":"babe"}"#),
        ])
        waitForRows(3)
        let bare = try post(#"{"setup":{"anything":[1,2,3]}}"#)
        XCTAssertEqual(bare["setup"] as? [String: [Int]], ["anything": [1, 2, 3]])
        for field in ["ts_start", "ts_end", "description", "chain_spec", "benchmark_spec", "host_system_id", "peer_id"] {
            XCTAssertTrue(bare[field] is NSNull, "\(field): \(bare)")
        }
        // The node named where the original's dashboard looked for it, no
        // time range: every target the node logged.
        let node = try post(#"{"setup":{"tetcore":{"peerId":"SetupNode"}},"description":"ignored beside a setup"}"#)
        XCTAssertEqual(node["peer_id"] as? String, "SetupNode")
        XCTAssertTrue(node["description"] is NSNull)
        XCTAssertEqual(try getArray("/benchmarks/2/targets").map { $0["target"] as? String }, ["babe", "sync"])
        _ = try post(#"{"setup":{"substrate":{"peerId":"SetupNode"},"ts_start":"2027-01-01T00:00:00+01:00"}}"#)
        XCTAssertEqual(try getArray("/benchmarks/3/targets").map { $0["target"] as? String }, ["babe"])

        // A benchmark of the README's form has no setup member.
        _ = try request("POST", "/host_systems", body: #"{"description":"box","os":"Debian 12","cpu_qty":2,"cpu_clock":2400,"ram_mb":4096,"disk_info":"SSD"}"#)
        let plain = try post(#"{"benchmark_spec":{},"chain_spec":{},"description":"d","host_system_id":1,"ts_start":"2026-01-01T00:00:00","ts_end":"2026-01-01T01:00:00"}"#)
        XCTAssertNil(plain["setup"], "\(plain)")
        XCTAssertEqual(try getArray("/benchmarks").map { $0["setup"] == nil }, [true, false, false, false])
    }

    func testABadSetupIsRefusedNamingIt() throws {
        try assertError("POST", "/benchmarks", body: #"{"setup":[1]}"#, 400, "field 'setup' must be a JSON object")
        try assertError("POST", "/benchmarks", body: #"{"setup":"x","ts_start":"2026-01-01T00:00:00"}"#, 400, "field 'setup' must be a JSON object")
        try assertError("POST", "/benchmarks", body: #"{"setup":null}"#, 400, "missing required field 'setup'")
        try assertError("POST", "/benchmarks", body: #"{"setup":{"a":"\u0000"}}"#, 400, "field 'setup' contains a NUL character")
        XCTAssertEqual(count("SELECT count(*) FROM benchmarks"), 0)
    }

    func testTheSetupFormNeedsTheTokenLikeTheOtherWrites() throws {
        server = try startServer(["API_TOKEN": "secret-token"])
        let response = try request("POST", "/benchmarks", body: #"{"setup":{}}"#)
        XCTAssertEqual(response.status, 401, response.body)
        XCTAssertEqual(count("SELECT count(*) FROM benchmarks"), 0)
    }
}
