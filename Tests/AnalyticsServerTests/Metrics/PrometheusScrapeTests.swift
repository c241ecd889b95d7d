@testable import TestSupport
import XCTest

/// A real Prometheus scrapes the server while nodes send telemetry; what
/// it stored is read back through its HTTP API.
final class PrometheusScrapeTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "20"] }

    func testPrometheusSeesTheTargetUpAndExactlyTheMessagesIngested() throws {
        let prometheus = try PrometheusServer(scraping: server.port)
        let total = 357
        var nodes: [RawClient] = []
        for _ in 0..<3 {
            let client = try RawClient(port: server.port)
            XCTAssertEqual(try client.upgrade(), 101)
            nodes.append(client)
        }
        for index in 0..<total {
            try nodes[index % nodes.count].sendText(#"{"msg":"system.interval","ts":"2026-11-29T09:00:00Z","n":\#(index)}"#)
        }
        eventually(60, "every row committed") { self.count("SELECT count(*) FROM tetcore_logs") == total }

        let job = PrometheusServer.job
        eventually(30, "the target up in Prometheus") { try prometheus.value(of: #"up{job="\#(job)"}"#) == 1 }
        eventually(60, "the counts scraped") {
            try prometheus.value(of: #"tetcore_message_count{job="\#(job)"}"#) == Double(total)
                && prometheus.value(of: #"tetcore_rows_written_total{job="\#(job)"}"#) == Double(total)
        }
        XCTAssertEqual(try prometheus.value(of: #"up{job="\#(job)"}"#), 1)
        XCTAssertEqual(try prometheus.value(of: #"tetcore_message_count{job="\#(job)"}"#), Double(total))
        XCTAssertEqual(try prometheus.value(of: #"tetcore_rows_written_total{job="\#(job)"}"#), Double(total))
        XCTAssertEqual(try prometheus.value(of: #"nodes_connected_count{job="\#(job)"}"#), 3)
        XCTAssertEqual(try prometheus.value(of: #"sum(tetcore_messages_rejected_total{job="\#(job)"})"#), 0)
        XCTAssertEqual(try prometheus.value(of: #"tetcore_batch_size_rows_sum{job="\#(job)"}"#), Double(total))
    }
}
