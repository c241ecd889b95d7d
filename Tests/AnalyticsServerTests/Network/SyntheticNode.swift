import Foundation
@testable import TestSupport
import XCTest

/// A node as current releases are: binary frames in the wrapped form, the
/// message forms of docs/network.md, sent when the test says. `ts` is the
/// node's own clock, which the server must not use for timings: a node can
/// be given a skewed one.
final class SyntheticNode {
    static let genesisA = "0x91b171bb158e2d3848fa23a9f1c25182fb8e20313b2c1eb49219da7a70ce90c3"
    static let genesisB = "0xb0a8d493285c2df73290dfb7e61f870f17b41801197a149ca93654499ea3dafe"

    let peerID: String
    let genesis: String
    let client: RawClient
    /// Added to the real time in every `ts` the node sends.
    var clockSkew: TimeInterval = 0
    let id: Int

    /// Connects and sends system.connected (and sysinfo.hwbench).
    convenience init(port: Int, path: String = "/", peerID: String, name: String? = nil, chain: String = "Tetcore",
         genesis: String = SyntheticNode.genesisA, version: String = "0.9.43-5a1f7c2e9b4", id: Int = 1,
         clockSkew: TimeInterval = 0, sysinfo: String? = nil, hwbench: Bool = true) throws {
        let client = try RawClient(port: port)
        XCTAssertEqual(try client.upgrade(path: path), 101)
        try self.init(client: client, peerID: peerID, name: name, chain: chain, genesis: genesis, version: version, id: id,
                      clockSkew: clockSkew, sysinfo: sysinfo, hwbench: hwbench)
    }

    /// Another node (`id`) on an open socket, as a collator's relay node is.
    init(client: RawClient, peerID: String, name: String? = nil, chain: String = "Tetcore",
         genesis: String = SyntheticNode.genesisA, version: String = "0.9.43-5a1f7c2e9b4", id: Int,
         clockSkew: TimeInterval = 0, sysinfo: String? = nil, hwbench: Bool = true) throws {
        self.peerID = peerID
        self.genesis = genesis
        self.id = id
        self.clockSkew = clockSkew
        self.client = client
        let system = sysinfo ?? #"{"cpu":"AMD Ryzen 9 7950X3D 16-Core Processor","memory":67108864000,"core_count":16,"linux_kernel":"6.1.0-27-amd64","linux_distro":"Debian GNU/Linux 12 (bookworm)","is_virtual_machine":false}"#
        try send(#"{"msg":"system.connected","name":"\#(name ?? peerID)","implementation":"Tetcore Node","version":"\#(version)","config":"","chain":"\#(chain)","genesis_hash":"\#(genesis)","authority":true,"startup_time":"1764580000123","network_id":"\#(peerID)","target_os":"linux","target_arch":"x86_64","target_env":"gnu","sysinfo":\#(system)}"#)
        if hwbench {
            try send(#"{"msg":"sysinfo.hwbench","cpu_hashrate_score":1712,"parallel_cpu_hashrate_score":21540,"memory_memcpy_score":24880,"disk_sequential_write_score":2210,"disk_random_write_score":640}"#)
        }
    }

    static func hash(_ height: Int, fork: Int = 0) -> String {
        "0x" + String(format: "%060x", height) + String(format: "%04x", fork)
    }

    private var ts: String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date().addingTimeInterval(clockSkew))
    }

    /// One payload, wrapped.
    func send(_ payload: String) throws {
        try client.sendBinary(#"{"id":\#(id),"ts":"\#(ts)","payload":\#(payload)}"#)
    }

    func importBlock(_ height: Int, fork: Int = 0, origin: String = "NetworkBroadcast") throws {
        try send(#"{"msg":"block.import","height":\#(height),"best":"\#(SyntheticNode.hash(height, fork: fork))","origin":"\#(origin)"}"#)
    }

    /// Both interval messages of one tick.
    func interval(best: Int, finalized: Int, txcount: Int = 3, peers: Int = 25) throws {
        try send(#"{"msg":"system.interval","height":\#(best),"best":"\#(SyntheticNode.hash(best))","txcount":\#(txcount),"finalized_height":\#(finalized),"finalized_hash":"\#(SyntheticNode.hash(finalized))","used_state_cache_size":876543210}"#)
        try send(#"{"msg":"system.interval","peers":\#(peers),"bandwidth_download":183214,"bandwidth_upload":97321}"#)
    }

    func finalized(_ height: Int) throws {
        try send(#"{"msg":"notify.finalized","height":"\#(height)","best":"\#(SyntheticNode.hash(height))"}"#)
    }
}

extension ServerTestCase {
    /// GET on `server` (or `port`): status and body parsed as JSON.
    func get(_ target: String, port: Int? = nil) throws -> (status: Int, json: Any?) {
        let client = try RawClient(port: port ?? server.port)
        try client.send("GET \(target) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        let response = try client.readHTTPResponse()
        return (response.status, try? JSONSerialization.jsonObject(with: Data(response.body.utf8), options: [.fragmentsAllowed]))
    }

    func object(_ target: String, port: Int? = nil) throws -> [String: Any]? {
        let response = try get(target, port: port)
        return response.status == 200 ? response.json as? [String: Any] : nil
    }

    func array(_ target: String, port: Int? = nil) throws -> [[String: Any]]? {
        let response = try get(target, port: port)
        return response.status == 200 ? response.json as? [[String: Any]] : nil
    }

    /// The node list of a chain by peer id.
    func nodes(_ genesis: String, port: Int? = nil) throws -> [String: [String: Any]] {
        let list = try array("/chains/\(genesis)/nodes", port: port) ?? []
        return Dictionary(list.compactMap { node in (node["peer_id"] as? String).map { ($0, node) } }) { a, _ in a }
    }
}
