import Foundation
@testable import TestSupport
import XCTest

/// The overview, node and chain pages in headless Chromium against
/// synthetic nodes over the real ingestion path: the live node table
/// (heights, versions, stale and offline without a reload, sorting,
/// search), the charts' points per window, the recovery after a server
/// restart, and every page at desktop and phone width.
final class NetworkDashboardBrowserTests: ServerTestCase {
    override var extraEnvironment: [String: String] {
        ["DB_SAVE_LATENCY_MS": "10", "NODE_ID_IDLE_S": "30", "NETWORK_STALE_S": "3", "NETWORK_SERIES_STEP_S": "1",
         "CACHE_UPDATE_INTERVAL_MS": "200"]
    }

    private var url: String { "http://127.0.0.1:\(server.port)/dashboard/" }
    private let genesis = SyntheticNode.genesisA

    /// Three nodes at height 5 (versions 1.0.0, 1.1.0, 1.2.0, peers 10, 30, 20).
    private func threeNodes() throws -> [SyntheticNode] {
        let nodes = try [("alpha", "1.0.0", 10), ("bravo", "1.1.0", 30), ("charlie", "1.2.0", 20)].map { name, version, peers in
            let node = try SyntheticNode(port: server.port, peerID: "12D3KooW\(name)", name: name, version: "\(version)-abc")
            for height in 1...5 { try node.importBlock(height) }
            try node.interval(best: 5, finalized: 3, peers: peers)
            return node
        }
        eventually(30, "three nodes at height 5") {
            let listed = try self.nodes(self.genesis)
            return listed.count == 3 && listed.values.allSatisfy { $0["best_height"] as? Int == 5 && $0["peers"] != nil }
        }
        return nodes
    }

    private func rowsJS(_ condition: String) -> String {
        "[...document.querySelectorAll('table.nodes tr.node')].\(condition)"
    }

    func testOverviewShowsEachNodeLiveAndGreysStaleAndOfflineNodesLast() throws {
        var nodes: [SyntheticNode?] = try threeNodes()
        // The page must first see all three online with their versions
        // (remembered across evaluations; on a slow machine the first look
        // may come after alpha moved on), then alpha moving on, bravo stale
        // at 5 and charlie offline at 7: updates without a reload.
        let row = { (peer: String) in "document.querySelector('tr[data-peer=\"12D3KooW\(peer)\"]')" }
        let cell = { (peer: String, column: String) in "\(row(peer))?.querySelector('td[data-column=\"\(column)\"]')?.textContent" }
        let ready = """
            (window.__sawOnline ||= ['alpha', 'bravo', 'charlie'].every((p, i) => \(row("' + p + '")) &&
                \(row("' + p + '")).dataset.state === 'online' && Number(\(cell("' + p + '", "best_height"))) >= 5 &&
                \(cell("' + p + '", "implementation")) === 'Tetcore Node 1.' + i + '.0-abc'))
            && \(row("alpha"))?.dataset.state === 'online' && Number(\(cell("alpha", "best_height"))) >= 7
            && \(row("bravo"))?.dataset.state === 'stale' && \(cell("bravo", "best_height")) === '5'
            && \(row("charlie"))?.dataset.state === 'offline' && \(cell("charlie", "best_height")) === '7'
            && \(rowsJS("map((r) => r.dataset.peer).join()")) === '12D3KooWalpha,12D3KooWbravo,12D3KooWcharlie'
            && document.querySelector('[data-tile=nodes]').textContent === '2 / 3'
            && performance.getEntriesByType('navigation').length === 1
            """
        let browser = try HeadlessChromium.launch("\(url)?chain=\(genesis)", screenshot: "overview-live.png", ready: ready, timeoutS: 90)
        eventually(60, "the page subscribed and took its snapshot") {
            (try? Scrape.of(self.server)["tetcore_subscription_messages_total"]).map { $0 >= 2 } ?? false
        }
        // alpha and charlie import on; bravo stops. Then charlie leaves.
        var height = 6
        while browser.process.isRunning && height < 400 {
            try nodes[0]?.importBlock(height)
            if height < 8 { try nodes[2]?.importBlock(height) }
            if height == 8 { nodes[2] = nil } // its socket closes
            height += 1
            usleep(300_000) // the chain's pace, not a wait for a result
        }
        let page = try browser.result()
        XCTAssertTrue(page.ready, "alpha live and first, bravo stale, charlie offline, without a reload")
        XCTAssertEqual(page.errors, [])
    }

    func testSortingSearchAndOptionalColumns() throws {
        _ = try threeNodes()
        // Steps in the page, one per evaluation (each waits for a frame):
        // sort by peers (descending first), again (ascending), search, then
        // switch the bandwidth column on (its sparklines; remembered).
        let ready = """
            (() => {
              const order = () => \(rowsJS("map((r) => r.querySelector('td[data-column=\"name\"]').textContent).join()"));
              const s = (window.__steps ||= { at: 0, seen: [] });
              if (s.at === 0 && order().split(',').length === 3) { document.querySelector('th[data-column=peers] button').click(); s.at = 1; return false; }
              if (s.at === 1) { s.seen.push(order()); document.querySelector('th[data-column=peers] button').click(); s.at = 2; return false; }
              if (s.at === 2) { s.seen.push(order()); const box = document.getElementById('search'); box.value = 'RAV'; box.dispatchEvent(new Event('input')); s.at = 3; return false; }
              if (s.at === 3) { s.seen.push(order() + '|' + location.search.includes('q=RAV')); document.querySelector('#column-list input[value=bandwidth]').click(); s.at = 4; return false; }
              if (s.at === 4) {
                const spark = document.querySelector('td[data-column="bandwidth"] canvas.spark');
                s.seen.push([document.querySelector('th[data-column=bandwidth]') !== null, spark !== null && Chart.getChart(spark) !== undefined,
                  localStorage.getItem('tetcore-dashboard.table').includes('"bandwidth"')].join());
                document.body.dataset.steps = s.seen.join(';');
                return true;
              }
              return false;
            })()
            """
        let page = try HeadlessChromium.open("\(url)?chain=\(genesis)", screenshot: "overview-sorted.png", ready: ready)
        XCTAssertTrue(page.ready)
        XCTAssertEqual(page.dom.range(of: #"data-steps="[^"]*""#, options: .regularExpression).map { String(page.dom[$0]) },
                       #"data-steps="bravo,charlie,alpha;alpha,charlie,bravo;bravo|true;true,true,true""#)
        XCTAssertEqual(page.errors, [])
    }

    func testTheOverviewRecoversAfterAServerRestart() throws {
        _ = try threeNodes()
        // The statuses the page went through are kept in data-statuses. That
        // it was live before the restart is the server's word (its
        // subscription gauge): on a busy machine the page can connect, and
        // lose the connection, before the first look at it.
        let ready = """
            (() => {
              const box = document.getElementById('status'), rows = \(rowsJS("length"));
              const seen = (window.__seen ||= []);
              const now = box.dataset.state + ':' + box.textContent + ':' + rows;
              if (seen[seen.length - 1] !== now) seen.push(now);
              document.body.dataset.statuses = seen.join('|');
              const live = (entry) => entry.startsWith('ok:live:3');
              const lost = seen.findIndex((entry) => entry.includes('reconnecting'));
              return lost >= 0 && lost < seen.length - 1 && live(seen[seen.length - 1]);
            })()
            """
        let browser = try HeadlessChromium.launch("\(url)?chain=\(genesis)", screenshot: "overview-restarted.png", ready: ready, timeoutS: 120)
        eventually(60, "the page subscribed") { (try? Scrape.of(self.server)["tetcore_subscriptions"]) == 1 }
        let port = server.port
        XCTAssertEqual(server.terminate(), 0)
        // On the same port: ServerProcess's own readiness check asks the
        // port it chose, so readiness is polled here.
        var environment = ["DATABASE_URL": database.url, "PORT": String(port)]
        environment.merge(extraEnvironment) { $1 }
        server = try ServerProcess(environment: environment, waitUntilReady: false)
        eventually(60, "the restarted server ready") {
            let client = try RawClient(port: port)
            try client.send("GET /readyz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            return try client.readHTTPResponse().status == 200
        }
        let page = try browser.result()
        XCTAssertTrue(page.ready, "the page said it was reconnecting, then showed the nodes again: "
            + (page.dom.range(of: #"data-statuses="[^"]*""#, options: .regularExpression).map { String(page.dom[$0]) } ?? ""))
        // Only the attempts while the server was down may fail.
        XCTAssertEqual(page.errors.filter { !$0.contains("/subscribe") && !$0.contains("/chains") }, [])
    }

    /// One node's history, finished (no step grows while the page reads it).
    private func historyOfOneNode() throws -> SyntheticNode {
        let node = try SyntheticNode(port: server.port, peerID: "12D3KooWhistory", name: "history", version: "1.0.0-abc")
        let other = try SyntheticNode(port: server.port, peerID: "12D3KooWforker", name: "forker", version: "1.1.0-abc")
        for height in 1...6 {
            try node.importBlock(height)
            try node.interval(best: height, finalized: max(0, height - 2), peers: 20 + height)
            // A fork at height 4: another block there.
            try other.importBlock(height, fork: height == 4 ? 1 : 0)
            usleep(1_100_000) // one series step per height
        }
        var last = -1
        eventually(30, "the series rows settled") {
            let rows = self.count("SELECT count(*) FROM network_node_series")
            defer { last = rows }
            return rows >= 6 && rows == last
        }
        eventually(30, "both blocks of height 4 listed") {
            (try self.array("/chains/\(self.genesis)/blocks") ?? []).filter { $0["height"] as? Int == 4 }.count == 2
        }
        return node
    }

    /// Points the API gives for a series over the chart's window (read from the page).
    private func apiPoints(_ path: String, _ page: RenderedPage, chart: String) throws -> Int {
        let start = try XCTUnwrap(page.attribute("data-start", of: chart).flatMap(Int64.init))
        let end = try XCTUnwrap(page.attribute("data-end", of: chart).flatMap(Int64.init))
        let format = { (ms: Int64) in
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
        }
        let separator = path.contains("?") ? "&" : "?"
        let target = "\(path)\(separator)start_time=\(format(start))&end_time=\(format(end))"
        return try XCTUnwrap(try array(target.replacingOccurrences(of: "+", with: "%2B")), target).count
    }

    func testNodePageChartsHaveAPointPerStepOfTheWindow() throws {
        _ = try historyOfOneNode()
        let charts = ["best_lag", "finality_lag", "peers", "bandwidth", "block_time_ms"]
        let ready = charts.map { "document.getElementById('chart-\($0)').dataset.points !== undefined" }.joined(separator: " && ")
            + " && document.getElementById('state').dataset.state !== undefined"
        let page = try HeadlessChromium.open("\(url)node?peer=12D3KooWhistory&window=1h", screenshot: "node.png", ready: ready)
        XCTAssertTrue(page.ready)
        XCTAssertEqual(page.errors, [])
        let series = "/nodes/12D3KooWhistory/series?metric="
        for (chart, metrics) in [("best_lag", ["best_lag"]), ("finality_lag", ["finality_lag"]), ("peers", ["peers"]),
                                 ("bandwidth", ["bandwidth_download", "bandwidth_upload"]), ("block_time_ms", ["block_time_ms"])] {
            let expected = try metrics.reduce(0) { $0 + (try apiPoints(series + $1, page, chart: "chart-\(chart)")) }
            XCTAssertGreaterThan(expected, 0, chart)
            XCTAssertEqual(page.attribute("data-points", of: "chart-\(chart)"), String(expected), chart)
        }
        XCTAssertTrue(page.dom.contains("/nodes/logs?peer_id=12D3KooWhistory&amp;msg=system.interval&amp;start_time="),
                      "each chart links to the raw messages of its window")
        XCTAssertTrue(page.dom.contains(#"data-field="implementation">Tetcore Node 1.0.0-abc<"#))
    }

    func testChainPageChartsBlocksForksHistoryAndRankings() throws {
        _ = try historyOfOneNode()
        let ready = ["block-time", "propagation", "finality", "online", "versions"]
            .map { "document.getElementById('chart-\($0)').dataset.points !== undefined" }.joined(separator: " && ")
            + " && document.getElementById('ranking-version') !== null"
            + " && (document.body.dataset.forks = Chart.getChart(document.querySelector('#chart-block-time canvas')).data.datasets[1].data.length)"
        let page = try HeadlessChromium.open("\(url)chain?chain=\(genesis)&window=1h", screenshot: "chain.png", ready: ready)
        XCTAssertTrue(page.ready)
        XCTAssertEqual(page.errors, [])
        let chain = "/chains/\(genesis)"
        XCTAssertEqual(page.attribute("data-blocks", of: "chart-block-time"),
                       String(try apiPoints("\(chain)/blocks?limit=10000", page, chart: "chart-block-time")))
        XCTAssertTrue(page.dom.contains(#"data-forks="1""#), "the fork at height 4 marked on the block chart")
        XCTAssertEqual(page.attribute("data-points", of: "chart-online"),
                       String(try apiPoints("\(chain)/series?metric=nodes_online", page, chart: "chart-online")))
        let versionSteps = try apiPoints("\(chain)/series?metric=versions", page, chart: "chart-versions")
        XCTAssertGreaterThan(versionSteps, 0)
        XCTAssertEqual(page.attribute("data-series", of: "chart-versions"), "2", "two versions stacked")
        XCTAssertEqual(page.attribute("data-points", of: "chart-versions"), String(2 * versionSteps))
        XCTAssertEqual(page.attribute("data-points", of: "ranking-version"), "2")
    }

    /// Every page loads its data without an error at desktop and phone
    /// width and in the dark theme. The screenshots (.build/dashboard-screenshots)
    /// are for debugging; those in docs/ come from a realistic fleet
    /// (scripts/screenshots).
    func testEveryPageAtDesktopAndPhoneWidthAndInTheDarkTheme() throws {
        try DashboardBrowserTests.ingestTelemetry(server: server, database: database)
        _ = try historyOfOneNode()
        let pages: [(String, String, String)] = [
            ("overview", "?chain=\(genesis)", "document.querySelectorAll('table.nodes tr.node').length >= 2"),
            ("chain", "chain?chain=\(genesis)&window=1h", "document.getElementById('ranking-version') !== null"),
            ("node", "node?peer=12D3KooWhistory&window=1h", "document.getElementById('chart-peers').dataset.points !== undefined"),
            ("nodes", "nodes", "document.getElementById('status').dataset.state === 'ok'"),
            ("profiling", "profiling?peer_id=\(DashboardBrowserTests.nodePeer)&interval=10", "document.getElementById('chart').dataset.points > 0"),
            ("reputation", "reputation?peer_id=\(DashboardBrowserTests.remotePeer)", "document.getElementById('history').dataset.points > 0"),
            ("benchmarks", "benchmarks", "document.querySelector('#detail h4') !== null"),
        ]
        for (name, path, ready) in pages {
            for (size, dimensions) in [("desktop", HeadlessChromium.desktop), ("phone", HeadlessChromium.phone)] {
                let page = try HeadlessChromium.open(url + path, screenshot: "\(name)-\(size).png", ready: ready, size: dimensions)
                XCTAssertTrue(page.ready, "\(name) at \(size) width")
                XCTAssertEqual(page.errors, [], "\(name) at \(size) width")
            }
        }
        // The dark theme, as a system that prefers it gets.
        for (name, path, ready) in pages.prefix(2) {
            let page = try HeadlessChromium.open(url + path, screenshot: "\(name)-dark.png", ready: ready, dark: true)
            XCTAssertTrue(page.ready && page.errors.isEmpty, "\(name) in the dark theme: \(page.errors)")
        }
        print("dashboard screenshots: \(HeadlessChromium.screenshots.path)")
    }
}
