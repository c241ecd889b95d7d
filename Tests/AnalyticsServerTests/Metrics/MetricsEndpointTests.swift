@testable import TestSupport
import XCTest

/// /metrics of the real server: promtool's verdict, and counters that move
/// exactly as docs/metrics.md documents them.
final class MetricsEndpointTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "20", "WS_MAX_PAYLOAD": "1024"] }

    private func node() throws -> RawClient {
        let client = try RawClient(port: server.port)
        XCTAssertEqual(try client.upgrade(), 101)
        return client
    }

    private func message(_ index: Int) -> String {
        #"{"msg":"system.interval","ts":"2026-11-29T09:00:00Z","n":\#(index)}"#
    }

    func testLiveScrapePassesPromtoolWithEveryKindOfSeries() throws {
        let client = try node()
        try client.sendText(message(0))
        try client.sendText("not json")
        try client.send(RawClient.frame(opcode: 0x8, [0x03, 0xE8])) // close 1000
        XCTAssertEqual(try client.readCloseCode(), 1000)
        _ = try server.get("/no-such-route")
        eventually(60, "the row written") { (try? Scrape.of(self.server)["tetcore_rows_written_total"]) == 1 }

        let raw = try RawClient(port: server.port)
        try raw.send("GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        let head = try raw.readHTTPHead()
        XCTAssertEqual(head.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        let scrape = try Scrape.of(server)
        XCTAssertEqual(scrape[#"tetcore_websocket_closes_total{code="1000"}"#], 1)
        XCTAssertEqual(scrape[#"tetcore_http_requests_total{route="unmatched",status="404"}"#], 1)
        XCTAssertEqual(scrape[#"tetcore_http_requests_total{route="/",status="101"}"#], 1)
        XCTAssertEqual(scrape["total_mem"], try meminfoKiB("MemTotal"), "the machine's memory, KiB")
        XCTAssertEqual(scrape["total_swap"], try meminfoKiB("SwapTotal"))
        XCTAssertEqual(scrape["process_max_fds"].map { $0 > 0 }, true)
        // Between this test starting the process and now; the kernel's
        // boot time in whole seconds rounds it by up to a second.
        let started = try XCTUnwrap(scrape["process_start_time_seconds"])
        XCTAssertGreaterThanOrEqual(started, server.launchedAt.timeIntervalSince1970 - 1, "started when the test started it")
        XCTAssertLessThanOrEqual(started, Date().timeIntervalSince1970 + 1)
        let check = try PrometheusPackage.checkMetrics(scrape.text)
        XCTAssertEqual(check.status, 0, check.output + "\n" + scrape.text)
        XCTAssertEqual(check.output, "")
    }

    private func meminfoKiB(_ field: String) throws -> Double {
        let meminfo = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        let line = try XCTUnwrap(meminfo.split(separator: "\n").first { $0.hasPrefix(field + ":") })
        return try XCTUnwrap(line.split(separator: " ").dropFirst().first.flatMap { Double($0) })
    }

    func testPingsAndPongsAreNotMessages() throws {
        let client = try node()
        for _ in 0..<3 { try client.send(RawClient.frame(opcode: 0x9, Array("ping".utf8))) }
        for _ in 0..<3 {
            var frame = try client.readFrame()
            while frame.opcode == 0x9 { frame = try client.readFrame() } // the server's own heartbeat pings
            XCTAssertEqual(frame.opcode, 0xA, "a pong for each ping")
        }
        try client.send(RawClient.frame(opcode: 0xA, []))
        try client.sendText(message(1))
        try client.sendBinary(message(2))
        eventually(60, "two rows") { self.count("SELECT count(*) FROM tetcore_logs") == 2 }
        let scrape = try Scrape.of(server)
        XCTAssertEqual(scrape["tetcore_message_count"], 2)
        XCTAssertEqual(scrape["tetcore_bytes_received"], Double(message(1).utf8.count + message(2).utf8.count))
        XCTAssertEqual(scrape["nodes_connected_count"], 1)
        XCTAssertEqual(scrape["current_tetcore_connections"], 1)
    }

    func testRejectedMessagesCountByReason() throws {
        let client = try node()
        for text in ["not json", "{\"msg\":", "[1,2]", #"{"msg":"no ts"}"#, #"{"msg":"x","ts":"yesterday"}"#, #"{"msg":"x","ts":42}"#] {
            try client.sendText(text)
        }
        try client.sendText(message(3))
        eventually(60, "the good row") { self.count("SELECT count(*) FROM tetcore_logs") == 1 }

        let oversized = try node()
        try oversized.sendText(String(repeating: "x", count: 2000))
        XCTAssertEqual(try oversized.readCloseCode(), 1009)
        eventually(60, "the oversized socket gone") { (try? Scrape.of(self.server)["nodes_dropped_count"]) == 1 }

        let scrape = try Scrape.of(server)
        let rejected = { (reason: String) in scrape[#"tetcore_messages_rejected_total{reason="\#(reason)"}"#] }
        XCTAssertEqual(rejected("invalid_json"), 2)
        XCTAssertEqual(rejected("not_object"), 1)
        XCTAssertEqual(rejected("bad_ts"), 3)
        XCTAssertEqual(rejected("too_large"), 1)
        XCTAssertEqual(rejected("bad_id"), 0)
        XCTAssertEqual(scrape["tetcore_message_count"], 7, "the oversized message was never received whole")
        XCTAssertEqual(scrape[#"tetcore_websocket_closes_total{code="1009"}"#], 1)
        XCTAssertEqual(scrape["tetcore_rows_written_total"], 1)
    }

    func testRowsCountOnceAcrossLostDatabaseConnections() throws {
        let client = try node()
        let total = 2000
        for index in 0..<total {
            try client.sendText(message(index))
            if index % 500 == 250 {
                try database.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid()
                    """)
            }
        }
        eventually(60, "every row") { self.count("SELECT count(*) FROM tetcore_logs") == total }
        eventually(60, "nothing buffered") { (try? Scrape.of(self.server)["tetcore_buffered_rows"]) == 0 }
        let scrape = try Scrape.of(server)
        XCTAssertEqual(scrape["tetcore_message_count"], Double(total))
        XCTAssertEqual(scrape["tetcore_rows_written_total"], Double(total))
        XCTAssertEqual(scrape["tetcore_batch_size_rows_sum"], Double(total))
        XCTAssertEqual(scrape["tetcore_batch_size_rows_count"], scrape["tetcore_batches_written_total"])
        XCTAssertEqual(scrape["tetcore_message_commit_latency_seconds_count"], scrape["tetcore_batches_written_total"])
        XCTAssertEqual(scrape["tetcore_rows_rejected_total"], 0)
        XCTAssertEqual(count("SELECT count(DISTINCT logs->>'n') FROM tetcore_logs"), total)
    }

    func testRequestsCountsNeitherWebSocketsNorMetrics() throws {
        let before = try XCTUnwrap(Scrape.of(server)["requests"])
        _ = try server.get("/healthz")
        _ = try server.get("/no-such-route")
        _ = try server.get("/metrics")
        _ = try node()
        let after = try XCTUnwrap(Scrape.of(server)["requests"])
        XCTAssertEqual(after - before, 2)
    }

    func testScrapeAnswersFastWithoutADatabase() throws {
        // The "database" takes connections (the kernel completes them) and
        // never answers: every attempt of the server hangs until its own
        // timeout. A scrape that waited for PostgreSQL would hang with it;
        // one that does not answers however busy the machine is.
        let silent = ListeningSocket()
        defer { silent.close() }
        let unreachable = try ServerProcess(environment: ["DATABASE_URL": "postgres://postgres@127.0.0.1:\(silent.port)/none"],
                                            waitUntilReady: false)
        eventually(60, "listening") { (try? unreachable.get("/healthz").status) == 200 }
        let scrape = try Scrape.of(unreachable)
        XCTAssertEqual(scrape["tetcore_message_count"], 0)
        XCTAssertNotNil(scrape["process_resident_memory_bytes"])
        XCTAssertEqual(scrape[#"tetcore_database_connections_open{pool="write"}"#], 0, "answered while no database connection was up")
        XCTAssertEqual(try unreachable.get("/readyz").status, 503)
    }
}
