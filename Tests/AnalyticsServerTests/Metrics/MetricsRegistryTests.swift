@testable import AnalyticsServer
import Prometheus
import XCTest

/// The exposition built from plain counters, without a server.
final class MetricsRegistryTests: XCTestCase {
    func testUntypedFamiliesExactBytes() {
        var buffer: [UInt8] = []
        UntypedFamilies.write([.init(name: "requests", help: "Requests.", value: 7)], into: &buffer)
        XCTAssertEqual(String(decoding: buffer, as: UTF8.self), "# HELP requests Requests.\n# TYPE requests untyped\nrequests 7\n")
    }

    func testMirroredCounterAddsOnlyWhatTheSourceGained() {
        let registry = PrometheusCollectorRegistry()
        let mirrored = MirroredCounter(registry.makeCounter(descriptor: .named("things_total", help: "Things.")))
        mirrored.mirror(5)
        mirrored.mirror(5)
        mirrored.mirror(12)
        XCTAssertEqual(registry.emitToString(), "# HELP things_total Things.\n# TYPE things_total counter\nthings_total 12\n")
    }

    func testCountersMovedOnTheHotPathAppearAtTheNextScrape() {
        let metrics = MetricsRegistry()
        let loop = metrics.makeLoopCounters()
        loop.ingestion.messagesReceived = 3
        loop.ingestion.reject(.badTimestamp)
        loop.ingestion.webSocketClosed(code: 1009)
        loop.ingestion.webSocketClosed(code: 1000)
        loop.ingestion.rowsBatched = 2
        loop.ingestion.batchCommitted(rows: 2, inserted: 2, writeNanoseconds: 3_000_000, ageMilliseconds: 40)
        loop.http.recordClose(code: 1009)
        var state = ServerState()
        state.pools = [.init(name: "write", open: 2, busy: 1, reconnects: 4)]
        let first = lines(metrics.exposition(state, loops: [loop]))
        XCTAssertTrue(first.contains("tetcore_message_count 3"))
        XCTAssertTrue(first.contains(#"tetcore_messages_rejected_total{reason="bad_ts"} 1"#))
        XCTAssertTrue(first.contains(#"tetcore_messages_rejected_total{reason="too_large"} 1"#))
        XCTAssertTrue(first.contains(#"tetcore_messages_rejected_total{reason="invalid_json"} 0"#))
        XCTAssertTrue(first.contains(#"tetcore_websocket_closes_total{code="1009"} 1"#))
        XCTAssertTrue(first.contains("tetcore_rows_written_total 2"))
        XCTAssertTrue(first.contains("tetcore_buffered_rows 0.0"))
        XCTAssertTrue(first.contains(#"tetcore_batch_size_rows_bucket{le="1.0"} 0"#))
        XCTAssertTrue(first.contains(#"tetcore_batch_size_rows_bucket{le="5.0"} 1"#))
        XCTAssertTrue(first.contains(#"tetcore_batch_write_duration_seconds_bucket{le="0.0025"} 0"#))
        XCTAssertTrue(first.contains(#"tetcore_batch_write_duration_seconds_bucket{le="0.005"} 1"#))
        XCTAssertTrue(first.contains(#"tetcore_message_commit_latency_seconds_bucket{le="0.05"} 1"#))
        XCTAssertTrue(first.contains(#"tetcore_database_connections_busy{pool="write"} 1.0"#))
        XCTAssertTrue(first.contains(#"tetcore_database_reconnects_total{pool="write"} 4"#))

        loop.ingestion.messagesReceived += 2
        loop.ingestion.rowsBatched += 5
        let second = lines(metrics.exposition(state, loops: [loop]))
        XCTAssertTrue(second.contains("tetcore_message_count 5"))
        XCTAssertTrue(second.contains("tetcore_rows_written_total 2"), "a scrape adds nothing by itself")
        XCTAssertTrue(second.contains("tetcore_buffered_rows 5.0"))
    }

    func testTotalsAreTheSumOverLoopsAndEachLoopHasItsConnectionGauge() {
        let metrics = MetricsRegistry()
        let (first, second) = (metrics.makeLoopCounters(), metrics.makeLoopCounters())
        first.ingestion.messagesReceived = 7
        second.ingestion.messagesReceived = 5
        first.ingestion.reject(.badID)
        second.ingestion.reject(.badID)
        second.http.recordClose(code: 1001)
        var state = ServerState()
        state.telemetryConnections = 3
        state.loopConnections = [3]
        var other = ServerState()
        other.telemetryConnections = 4
        other.loopConnections = [4]
        other.pools = [.init(name: "write", open: 1, busy: 1, reconnects: 2)]
        state.pools = [.init(name: "write", open: 1, busy: 0, reconnects: 1)]
        state.add(other)
        let text = lines(metrics.exposition(state, loops: [first.snapshot(), second.snapshot()]))
        XCTAssertTrue(text.contains("tetcore_message_count 12"))
        XCTAssertTrue(text.contains(#"tetcore_messages_rejected_total{reason="bad_id"} 2"#))
        XCTAssertTrue(text.contains(#"tetcore_websocket_closes_total{code="1001"} 1"#))
        XCTAssertTrue(text.contains("current_tetcore_connections 7.0"))
        XCTAssertTrue(text.contains(#"tetcore_event_loop_connections{loop="0"} 3.0"#))
        XCTAssertTrue(text.contains(#"tetcore_event_loop_connections{loop="1"} 4.0"#))
        XCTAssertTrue(text.contains(#"tetcore_database_connections_open{pool="write"} 2.0"#))
        XCTAssertTrue(text.contains(#"tetcore_database_reconnects_total{pool="write"} 3"#))
    }

    func testEveryFamilyHasHelpAndType() {
        let metrics = MetricsRegistry()
        let loop = metrics.makeLoopCounters()
        loop.http.recordClose(code: 1000)
        loop.http.recordResponse(route: ("/healthz", false), status: 200)
        var state = ServerState()
        state.pools = [.init(name: "write", open: 1, busy: 0, reconnects: 0)]
        state.loopConnections = [0]
        let text = String(decoding: metrics.exposition(state, loops: [loop]), as: UTF8.self)
        let families = Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line -> Substring in
            let name = line.prefix { $0 != "{" && $0 != " " }
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && text.contains("# TYPE \(name.dropLast(suffix.count)) histogram") {
                return name.dropLast(suffix.count)
            }
            return name
        })
        for family in families {
            XCTAssertTrue(text.contains("# HELP \(family) "), "HELP of \(family)")
            XCTAssertTrue(text.contains("# TYPE \(family) "), "TYPE of \(family)")
        }
        XCTAssertEqual(families.sorted(), [
            "bytes_received", "bytes_sent", "current_feed_connections", "current_tetcore_connections", "feeds_connected",
            "feeds_disconnected", "load_avg_fifteen", "load_avg_five", "load_avg_one", "nodes_connected_count",
            "nodes_dropped_count", "process_cpu_seconds_total", "process_max_fds", "process_open_fds",
            "process_resident_memory_bytes", "process_start_time_seconds", "process_virtual_memory_bytes", "requests",
            "tetcore_backpressure_active", "tetcore_backpressure_paused_seconds_total", "tetcore_batch_retries_total",
            "tetcore_batch_size_rows", "tetcore_batch_write_duration_seconds", "tetcore_batches_written_total",
            "tetcore_buffered_bytes", "tetcore_buffered_rows", "tetcore_bytes_received", "tetcore_connections_refused_total",
            "tetcore_database_connections_busy",
            "tetcore_database_connections_open", "tetcore_database_reconnects_total", "tetcore_event_loop_connections",
            "tetcore_feed_caches",
            "tetcore_feed_clients_too_slow_total", "tetcore_feed_refreshes_abandoned_total", "tetcore_http_requests_total",
            "tetcore_log_partitions_made_total", "tetcore_message_commit_latency_seconds", "tetcore_message_count", "tetcore_messages_rejected_total",
            "tetcore_purge_runs_total", "tetcore_purged_connections_total",
            "tetcore_purged_partitions_total", "tetcore_purged_rows_total", "tetcore_rate_limit_closes_total",
            "tetcore_rows_rejected_total", "tetcore_rows_written_total", "tetcore_upgrades_refused_total",
            "tetcore_websocket_closes_total", "total_mem", "total_swap", "used_mem", "used_swap",
        ])
    }

    func testRequestsAreLabelledByRoutePattern() {
        var router = Router()
        router.addWebSocket("/") { _, _, _ in }
        router.add("GET", "/metrics") { _, respond in respond(HTTPResponse(status: 200, headers: [], body: [])) }
        router.add("GET", "/nodes/{id}/logs") { _, respond in respond(HTTPResponse(status: 200, headers: [], body: [])) }
        router.addPrefix("GET", "/dashboard") { _, respond in respond(HTTPResponse(status: 200, headers: [], body: [])) }
        let http = HTTPMetrics()
        for (path, status) in [("/nodes/7/logs", 200), ("/nodes/8/logs/", 200), ("/dashboard/css/a.css", 200),
                               ("/metrics", 200), ("/", 101), ("/", 400), ("/nope", 404), ("invalid", 400)] {
            http.recordResponse(route: router.routePattern(forPath: path), status: status)
        }
        XCTAssertEqual(http.requests, [
            .init(route: "/nodes/{id}/logs", status: 200): 2, .init(route: "/dashboard/*", status: 200): 1,
            .init(route: "/metrics", status: 200): 1, .init(route: "/", status: 101): 1, .init(route: "/", status: 400): 1,
            .init(route: "unmatched", status: 404): 1, .init(route: "unmatched", status: 400): 1,
        ])
        XCTAssertEqual(http.requestsExceptWebSocketsAndMetrics, 5, "not /metrics, not the two on the WebSocket route")
    }

    private func lines(_ bytes: [UInt8]) -> Set<String> {
        Set(String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init))
    }
}
