import Foundation
@testable import TestSupport
import XCTest

/// The dashboards that predate the network overview in headless Chromium against a server with ingested
/// telemetry: the rendered DOM, the browser console, and screenshots for
/// people (the folder is printed).
///
/// Every page, script, stylesheet and JSON endpoint a dashboard loads must
/// answer: its data must show and the console must stay clean. A 404 (an
/// endpoint or asset gone) is a failure, however the page then looks.
final class DashboardBrowserTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["CACHE_UPDATE_INTERVAL_MS": "200"] }

    static let nodePeer = "12D3KooWDashboardNode"
    static let remotePeer = "12D3KooWRemotePeer"

    override func setUpWithError() throws {
        try super.setUpWithError()
        print("dashboard screenshots: \(HeadlessChromium.screenshots.path)")
        try Self.ingestTelemetry(server: server, database: database)
    }

    func testProfilingDashboardDrawsLiveAggregatesPerTargetAndName() throws {
        let page = try open("profiling?peer_id=\(Self.nodePeer)&aggregate=max&interval=10", screenshot: "profiling.png",
                            ready: "document.getElementById('chart').dataset.series === 'pallet_babe / on_initialize|pallet_grandpa / on_finalize' && "
                                + "Chart.getChart(document.querySelector('#chart canvas')).data.datasets.length === 2")
        XCTAssertTrue(page.ready, "two series drawn by Chart.js")
        XCTAssertTrue(page.dom.contains("live: 2 series of \(Self.nodePeer)"))
        // max over each complete 10 s interval: the babe timings are 4000 + second % 10 → 4009.
        XCTAssertTrue(page.dom.contains(#"<td class="num">4009</td>"#), "latest max of pallet_babe")
        assertNoErrors(page)
    }

    func testNodesDashboardListsTheNodeWithLinks() throws {
        let page = try open("nodes", screenshot: "nodes.png", ready: "document.getElementById('status').dataset.state !== 'waiting'")
        XCTAssertTrue(page.ready)
        XCTAssertTrue(page.dom.contains(#"<code class="peer">\#(Self.nodePeer)</code>"#))
        XCTAssertTrue(page.dom.contains("/dashboard/profiling?peer_id=\(Self.nodePeer)"))
        assertNoErrors(page)
    }

    func testReputationDashboardShowsTheReportedPeers() throws {
        let page = try open("reputation?peer_id=\(Self.remotePeer)", screenshot: "reputation.png",
                            ready: "document.getElementById('status').dataset.state !== 'waiting' && "
                                + "document.getElementById('history-status').dataset.state !== 'waiting' && "
                                + "(document.body.dataset.reputation = Chart.getChart(document.querySelector('#history canvas'))"
                                + ".data.datasets.map((set) => set.data.map((point) => point.y).join()).join(';')) !== ''")
        XCTAssertTrue(page.ready)
        XCTAssertTrue(page.dom.contains("1 reporting node"))
        XCTAssertTrue(page.dom.contains(#"data-reputation="-2646""#), "the remote peer's reputation drawn")
        XCTAssertTrue(page.dom.contains("as seen by 1 node"))
        XCTAssertEqual(page.attribute("data-points", of: "history"), "1", "one report drawn")
        assertNoErrors(page)
    }

    func testBenchmarksDashboardShowsBenchmarksEventsAndTargets() throws {
        let page = try open("benchmarks", screenshot: "benchmarks.png",
                            ready: "document.getElementById('status').dataset.state !== 'waiting' && "
                                + "(document.getElementById('status').dataset.state === 'error' || document.querySelector('#detail h4'))")
        XCTAssertTrue(page.ready)
        XCTAssertTrue(page.dom.contains("dashboard benchmark"))
        XCTAssertTrue(page.dom.contains(#"data-events="import" data-points="2""#), "the event's two phases on the timeline")
        XCTAssertTrue(page.dom.contains("pallet_babe"), "a target of the benchmarked node")
        assertNoErrors(page)
    }

    func testProfilingDashboardSaysWhenTheFeedConnectionIsLost() throws {
        let browser = try launch("profiling?peer_id=\(Self.nodePeer)", screenshot: "profiling-connection-lost.png",
                                 ready: "document.getElementById('status').textContent.startsWith('live feed connection lost')")
        eventually(60, "the page connected to the feed") {
            (try? Scrape.of(self.server)["current_feed_connections"]) == 1
        }
        XCTAssertEqual(server.terminate(), 0)
        let page = try browser()
        XCTAssertTrue(page.ready, "the status says the connection is lost")
        XCTAssertTrue(page.dom.contains("reconnecting in"))
        // The reconnect attempts and /nodes refreshes fail while the server
        // shuts down and is gone: Chromium logs those. Nothing else may show,
        // and no 404 (an endpoint this build lacks).
        XCTAssertEqual(page.errors.filter { !($0.contains("/feed") || $0.contains("/nodes")) || $0.hasPrefix("http: 404") }, [])
    }

    private func open(_ path: String, screenshot: String, ready: String) throws -> RenderedPage {
        try HeadlessChromium.open("http://127.0.0.1:\(server.port)/dashboard/\(path)", screenshot: screenshot, ready: ready)
    }

    private func launch(_ path: String, screenshot: String, ready: String) throws -> () throws -> RenderedPage {
        try HeadlessChromium.launch("http://127.0.0.1:\(server.port)/dashboard/\(path)", screenshot: screenshot, ready: ready).result
    }

    /// Fails on any console error, failed load or HTTP error status.
    private func assertNoErrors(_ page: RenderedPage, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(page.errors, [], "browser console errors", file: file, line: line)
    }

    /// A node's telemetry of the last two minutes over the real ingestion
    /// path, plus a benchmark of that node written with SQL.
    static func ingestTelemetry(server: ServerProcess, database: TestDatabase) throws {
        let node = try RawClient(port: server.port)
        XCTAssertEqual(try node.upgrade(), 101)
        let now = FeedTimes.nowUs / 1_000_000
        try node.sendText(#"{"msg":"system.connected","ts":"\#(FeedNodeMessages.now())","network_id":"\#(Self.nodePeer)","name":"dashboard-node","chain":"Tetcore","version":"2.0","authority":true}"#)
        for second in (now - 120)...now {
            let ts = FeedTimes.text(second * 1_000_000) + "Z"
            for (target, name, base) in [("pallet_babe", "on_initialize", 4000), ("pallet_grandpa", "on_finalize", 9000)] {
                try node.sendText(#"{"msg":"tracing.profiling","ts":"\#(ts)","level":"INFO","target":"\#(target)","name":"\#(name)","time":\#(base + Int(second % 10)),"values":""}"#)
            }
        }
        try node.sendText(#"{"msg":"system.network_state","ts":"\#(FeedNodeMessages.now())","state":{"peerId":"\#(Self.nodePeer)","peerset":{"nodes":{"\#(Self.remotePeer)":{"connected":true,"reputation":-2646}}}}}"#)
        eventually(60, "telemetry stored") {
            Int(((try? database.scalar("SELECT count(*) FROM tetcore_logs")) ?? nil) ?? "") == 2 * 121 + 2
        }
        _ = try database.query("""
            INSERT INTO host_systems (id, description, os, cpu_qty, cpu_clock, ram_mb, disk_info)
            VALUES (1, 'test host', 'linux', 2, 2000, 4096, 'ssd');
            INSERT INTO benchmarks (id, ts_start, ts_end, description, benchmark_spec, host_system_id, peer_id)
            VALUES (1, now() AT TIME ZONE 'utc' - interval '3 minutes', now() AT TIME ZONE 'utc',
                    'dashboard benchmark', '{"tps": 100}', 1, '\(Self.nodePeer)');
            INSERT INTO benchmark_events (benchmark_id, name, phase, created_at)
            VALUES (1, 'import', 'start', now() AT TIME ZONE 'utc' - interval '100 seconds'),
                   (1, 'import', 'end', now() AT TIME ZONE 'utc' - interval '10 seconds')
            """)
    }
}
