import Foundation
@testable import TestSupport
import XCTest

/// Every documented operation is called against live data, and every
/// response (successes and errors) is checked against static/openapi.json
/// by openapi_check.py, which uses Python's `jsonschema` (OpenAPI 3.1
/// schemas are JSON Schema 2020-12). scripts/lib/deps.sh installs it.
final class OpenAPIConformanceTests: APITestCase {
    private struct Exchange: Encodable {
        let method: String
        let path: String
        let status: Int
        let content_type: String
        let body: String
    }

    private var exchanges: [Exchange] = []

    /// Sends a request and records the answer under the documented path.
    private func call(_ method: String, _ documented: String, _ target: String? = nil, body: String? = nil,
                      contentType: String = "application/json") throws {
        let client = try RawClient(port: server.port)
        var head = "\(method) \(target ?? documented) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        if let body { head += "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n" }
        try client.send(head + "\r\n" + (body ?? ""))
        var raw: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(client.fd, &chunk, chunk.count, 0)
            guard count > 0 else { break }
            raw += chunk[0..<count]
        }
        guard let split = raw.firstRange(of: Array("\r\n\r\n".utf8)) else { throw TestFailure("no response head") }
        let lines = String(decoding: raw[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        let contentType = lines.first { $0.lowercased().hasPrefix("content-type:") }
            .map { String($0.dropFirst("content-type:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
        exchanges.append(Exchange(method: method, path: documented, status: status, content_type: contentType,
                                  body: String(decoding: raw[split.upperBound...], as: UTF8.self)))
    }

    func testLiveResponsesMatchTheDocument() throws {
        let state = #"{"msg":"system.network_state","state":{"peerset":{"nodes":{"PeerB":{"connected":true,"reputation":5},"QmElse":{"connected":false,"reputation":-3}}}}}"#
        try ingest(peerID: "PeerA", name: "a", messages: [
            (APITestCase.recent(5), state), ("2026-01-01T10:00:00Z", #"{"msg":"block.import","target":"sync"}"#),
        ])
        try ingest(peerID: "PeerB", name: "b", messages: [(APITestCase.recent(3), #"{"msg":"system.network_state","state":{"peerset":{"nodes":{"PeerA":{"connected":true,"reputation":9}}}}}"#)])
        waitForRows(5)
        let host = #"{"description":"d","os":"o","cpu_qty":2,"cpu_clock":2000,"ram_mb":4096,"disk_info":"ssd"}"#
        let benchmark = #"{"benchmark_spec":{"n":1},"chain_spec":{"c":2},"description":"b","host_system_id":1,"ts_start":"2026-01-01T09:00:00","ts_end":"2026-01-01T11:00:00","peer_id":"PeerA"}"#

        try call("GET", "/nodes")
        try call("GET", "/nodes/log_stats", "/nodes/log_stats?peer_id=PeerA")
        try call("GET", "/nodes/log_stats")
        try call("GET", "/nodes/logs", "/nodes/logs?peer_id=PeerA&limit=5")
        try call("GET", "/nodes/logs", "/nodes/logs?peer_id=PeerA&start_time=yesterday")
        try call("GET", "/reputation")
        try call("GET", "/reputation", "/reputation?max_age_s=0")
        try call("GET", "/reputation/logged")
        try call("GET", "/reputation/logged", "/reputation/logged?limit=-4")
        try call("GET", "/reputation/{peer_id}", "/reputation/PeerA")
        try call("GET", "/reputation/{peer_id}", "/reputation/PeerA?end_time=x")
        try call("GET", "/stats/db")
        try call("GET", "/stats/version")
        try call("GET", "/openapi.json")
        try call("POST", "/host_systems", body: host)
        try call("POST", "/host_systems", body: "{}")
        try call("POST", "/host_systems", body: host, contentType: "text/plain")
        try call("POST", "/host_systems", body: String(repeating: " ", count: 5000) + host)
        try call("GET", "/host_systems")
        try call("POST", "/benchmarks", body: benchmark)
        try call("POST", "/benchmarks", body: benchmark.replacingOccurrences(of: #""host_system_id":1"#, with: #""host_system_id":2"#))
        try call("POST", "/benchmarks", body: "not json")
        try call("POST", "/benchmarks", body: benchmark, contentType: "application/x-www-form-urlencoded")
        try call("POST", "/benchmarks", body: String(repeating: " ", count: 5000))
        try call("GET", "/benchmarks")
        try call("GET", "/benchmarks/example")
        try call("POST", "/benchmarks", body: #"{"setup":{"tetcore":{"peerId":"PeerA"},"ts_start":"2026-01-01T09:00:00"}}"#)
        try call("POST", "/benchmarks", body: #"{"setup":[]}"#)
        try call("GET", "/benchmarks")
        try call("POST", "/benchmarks/events", body: #"{"benchmark_id":1,"name":"n","phase":"p"}"#)
        try call("POST", "/benchmarks/events", body: #"{"benchmark_id":3,"name":"n","phase":"p"}"#)
        try call("POST", "/benchmarks/events", body: #"{"benchmark_id":"1"}"#)
        try call("POST", "/benchmarks/events", body: "{}", contentType: "text/json")
        try call("POST", "/benchmarks/events", body: String(repeating: " ", count: 5000))
        try call("GET", "/benchmarks/{id}/events", "/benchmarks/1/events")
        try call("GET", "/benchmarks/{id}/events", "/benchmarks/2/events")
        try call("GET", "/benchmarks/{id}/events", "/benchmarks/x/events")
        try call("GET", "/benchmarks/{id}/targets", "/benchmarks/1/targets")
        try call("GET", "/benchmarks/{id}/targets", "/benchmarks/9/targets")
        try call("GET", "/benchmarks/{id}/targets", "/benchmarks/-1/targets")

        // The network routes, with two current nodes on one chain.
        let g = SyntheticNode.genesisA
        let alice = try SyntheticNode(port: server.port, peerID: "12D3KooWAlice")
        let bob = try SyntheticNode(port: server.port, peerID: "12D3KooWBob", sysinfo: "null", hwbench: false)
        try alice.interval(best: 10, finalized: 8)
        try alice.importBlock(11)
        try bob.importBlock(11)
        eventually(10, "both nodes listed with their blocks") {
            let bobAt = try self.nodes(g)["12D3KooWBob"]?["best_height"] as? Int
            let imports = try self.array("/chains/\(g)/blocks")?.first?["nodes"] as? Int
            return bobAt == 11 && imports == 2
        }
        try call("GET", "/chains")
        try call("GET", "/chains/{genesis_hash}", "/chains/\(g)")
        try call("GET", "/chains/{genesis_hash}", "/chains/\(g)?start_time=2020-01-01T00:00:00Z")
        try call("GET", "/chains/{genesis_hash}", "/chains/0xnone")
        try call("GET", "/chains/{genesis_hash}", "/chains/\(g)?end_time=x")
        try call("GET", "/chains/{genesis_hash}/nodes", "/chains/\(g)/nodes?sort=-best_height&online=true")
        try call("GET", "/chains/{genesis_hash}/nodes", "/chains/\(g)/nodes?online=yes")
        try call("GET", "/chains/{genesis_hash}/nodes", "/chains/0xnone/nodes")
        try call("GET", "/chains/{genesis_hash}/blocks", "/chains/\(g)/blocks?limit=5")
        try call("GET", "/chains/{genesis_hash}/blocks", "/chains/\(g)/blocks?limit=0")
        try call("GET", "/chains/{genesis_hash}/blocks", "/chains/0xnone/blocks")
        try call("GET", "/nodes/{peer_id}/state", "/nodes/12D3KooWAlice/state")
        try call("GET", "/nodes/{peer_id}/state", "/nodes/12D3KooWBob/state")
        try call("GET", "/nodes/{peer_id}/state", "/nodes/nobody/state")
        try call("GET", "/nodes/{peer_id}/state", "/nodes/a%00/state")
        try call("GET", "/nodes/{peer_id}/series", "/nodes/12D3KooWAlice/series?metric=peers")
        try call("GET", "/nodes/{peer_id}/series", "/nodes/12D3KooWAlice/series?metric=online&step=60")
        try call("GET", "/nodes/{peer_id}/series", "/nodes/12D3KooWAlice/series")
        try call("GET", "/nodes/{peer_id}/series", "/nodes/nobody/series?metric=peers")
        try call("GET", "/chains/{genesis_hash}/series", "/chains/\(g)/series?metric=nodes_online&step=60")
        try call("GET", "/chains/{genesis_hash}/series", "/chains/\(g)/series?metric=versions")
        try call("GET", "/chains/{genesis_hash}/series", "/chains/\(g)/series?metric=finality_lag")
        try call("GET", "/chains/{genesis_hash}/series", "/chains/\(g)/series?metric=height")
        try call("GET", "/chains/{genesis_hash}/series", "/chains/0xnone/series?metric=versions")
        withExtendedLifetime((alice, bob)) {}
        // A broken schema: every endpoint's 500 answer.
        try database.query("ALTER TABLE peer_connections RENAME TO gone; ALTER TABLE host_systems RENAME TO gone_too; ALTER TABLE benchmarks RENAME TO gone_three")
        try database.query("ALTER TABLE network_node_sessions RENAME TO gone_four; ALTER VIEW network_block_propagation RENAME TO gone_five; ALTER TABLE network_node_ids RENAME TO gone_six")
        try call("GET", "/chains/{genesis_hash}", "/chains/\(g)?start_time=2020-01-01T00:00:00Z")
        try call("GET", "/chains/{genesis_hash}/blocks", "/chains/\(g)/blocks")
        try call("GET", "/nodes/{peer_id}/series", "/nodes/12D3KooWAlice/series?metric=peers")
        try call("GET", "/chains/{genesis_hash}/series", "/chains/\(g)/series?metric=versions")
        for path in ["/nodes", "/nodes/log_stats?peer_id=P", "/nodes/logs?peer_id=P", "/reputation", "/reputation/logged",
                     "/reputation/P", "/host_systems", "/benchmarks", "/benchmarks/1/events", "/benchmarks/1/targets"] {
            let documented = path.replacingOccurrences(of: "/reputation/P", with: "/reputation/{peer_id}")
                .replacingOccurrences(of: "/benchmarks/1/", with: "/benchmarks/{id}/")
                .split(separator: "?").first.map(String.init) ?? path
            try call("GET", documented, path)
        }
        try call("POST", "/host_systems", body: host)
        try call("POST", "/benchmarks", body: benchmark)
        try call("POST", "/benchmarks/events", body: #"{"benchmark_id":1,"name":"n","phase":"p"}"#)

        let statuses = Set(exchanges.map(\.status))
        XCTAssertEqual(statuses, [200, 400, 404, 413, 415, 422, 500])
        let served = exchanges.first { $0.path == "/openapi.json" }?.body
        let file = try String(contentsOfFile: ServerProcess.repositoryRoot.appendingPathComponent("static/openapi.json").path, encoding: .utf8)
        XCTAssertEqual(served, file, "/openapi.json serves the repository's document")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let recorded = directory.appendingPathComponent("exchanges.json")
        try JSONEncoder().encode(exchanges).write(to: recorded)
        let check = try ChildProcess.run("/usr/bin/env", [
            "python3", ServerProcess.repositoryRoot.appendingPathComponent("Tests/AnalyticsServerTests/API/openapi_check.py").path,
            ServerProcess.repositoryRoot.appendingPathComponent("static/openapi.json").path, recorded.path])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains("\(exchanges.count) exchanges checked, 0 problems"), check.output)
    }
}
