@testable import AnalyticsServer
import Prometheus
@testable import TestSupport
import XCTest
@testable import WebServer

/// The exposition built from plain counters, without a server.
final class MetricsRegistryTests: XCTestCase {
    func testUntypedFamiliesExactBytes() {
        var buffer: [UInt8] = []
        UntypedFamilies.write([.init(name: "requests", help: "Requests.", value: 7)], into: &buffer)
        XCTAssertEqual(String(decoding: buffer, as: UTF8.self), "# HELP requests Requests.\n# TYPE requests untyped\nrequests 7\n")
    }

    /// Series of a volatile family (a chain, a node) leave the exposition
    /// with the scrape that no longer has them; others keep their last value.
    func testVolatileGaugeSeriesGoWhenAbsent() {
        let metrics = MetricsRegistry()
        let chain = MetricFamily(.gauge, "test_chain_height", help: "H.", labels: ["genesis"], isVolatile: true)
        let steady = MetricFamily(.gauge, "test_steady", help: "S.", labels: ["x"])
        var first = MetricReadings()
        first.record(chain, 5, labels: ["0xa"])
        first.record(chain, 7, labels: ["0xb"])
        first.record(steady, 1, labels: ["a"])
        let text = String(decoding: metrics.exposition(first), as: UTF8.self)
        XCTAssertTrue(text.contains(#"test_chain_height{genesis="0xa"} 5"#), text)
        var second = MetricReadings()
        second.record(chain, 6, labels: ["0xb"])
        let after = String(decoding: metrics.exposition(second), as: UTF8.self)
        XCTAssertFalse(after.contains(#"genesis="0xa""#), after)
        XCTAssertTrue(after.contains(#"test_chain_height{genesis="0xb"} 6"#), after)
        XCTAssertTrue(after.contains(#"test_steady{x="a"} 1"#), "not volatile: kept")
    }

    func testMirroredCounterAddsOnlyWhatTheSourceGained() {
        let registry = PrometheusCollectorRegistry()
        let mirrored = MirroredCounter(registry.makeCounter(descriptor: .named("things_total", help: "Things.")))
        mirrored.mirror(5, integral: true)
        mirrored.mirror(5, integral: true)
        mirrored.mirror(12, integral: true)
        XCTAssertEqual(registry.emitToString(), "# HELP things_total Things.\n# TYPE things_total counter\nthings_total 12\n")
    }

    /// A counter is one stored property; reflection finds it, presets show
    /// as zero, a scrape adds only what was gained since the last one.
    func testCountersDeclaredAsPropertiesAppearAtTheNextScrape() {
        let metrics = MetricsRegistry()
        let ingestion = IngestionCounters()
        let writer = BatchWriter.Counters()
        ingestion.messagesReceived += 3
        ingestion.reject(.badTimestamp)
        ingestion.backpressurePausedMs += 1500
        writer.rowsWritten += 2
        func scrape() -> Set<String> {
            var readings = MetricReadings()
            ingestion.readCounters(into: &readings)
            writer.readCounters(into: &readings)
            return lines(metrics.exposition(readings))
        }
        let first = scrape()
        XCTAssertTrue(first.contains("tetcore_message_count 3"))
        XCTAssertTrue(first.contains(#"tetcore_messages_rejected_total{reason="bad_ts"} 1"#))
        XCTAssertTrue(first.contains(#"tetcore_messages_rejected_total{reason="invalid_json"} 0"#), "preset series read 0")
        XCTAssertTrue(first.contains(#"tetcore_connections_refused_total{reason="blocked"} 0"#))
        XCTAssertTrue(first.contains("tetcore_backpressure_paused_seconds_total 1.5"), "milliseconds exposed as seconds")
        XCTAssertTrue(first.contains("tetcore_rows_written_total 2"))
        XCTAssertTrue(first.contains("# TYPE tetcore_message_count untyped"))

        ingestion.messagesReceived += 2
        let second = scrape()
        XCTAssertTrue(second.contains("tetcore_message_count 5"))
        XCTAssertTrue(second.contains("tetcore_rows_written_total 2"), "a scrape adds nothing by itself")
    }

    /// Loops' readings add up series by series; a flag is the maximum.
    func testTotalsAreTheSumOverLoopsAndFlagsTheMaximum() {
        var first = MetricReadings()
        var second = MetricReadings()
        first.record(Ingestion.telemetryConnections, 3)
        second.record(Ingestion.telemetryConnections, 4)
        first.record(Ingestion.loopConnections, 3, labels: ["0"])
        second.record(Ingestion.loopConnections, 4, labels: ["1"])
        first.record(Ingestion.backpressureActive, 1)
        second.record(Ingestion.backpressureActive, 0)
        first.record(PoolReadings.reconnects, 1, labels: ["write"])
        second.record(PoolReadings.reconnects, 2, labels: ["write"])
        var total = MetricReadings()
        total.add(first)
        total.add(second)
        let text = lines(MetricsRegistry().exposition(total))
        XCTAssertTrue(text.contains("current_tetcore_connections 7.0"))
        XCTAssertTrue(text.contains(#"tetcore_event_loop_connections{loop="0"} 3.0"#))
        XCTAssertTrue(text.contains(#"tetcore_event_loop_connections{loop="1"} 4.0"#))
        XCTAssertTrue(text.contains("tetcore_backpressure_active 1.0"))
        XCTAssertTrue(text.contains(#"tetcore_database_reconnects_total{pool="write"} 3"#))
    }

    /// Every family a loop's sources and the process declare has HELP and TYPE.
    func testEveryFamilyHasHelpAndType() {
        var readings = MetricReadings()
        IngestionCounters().readCounters(into: &readings)
        BatchWriter.Counters().readCounters(into: &readings)
        Feed.Counters().readCounters(into: &readings)
        ExpiryPurger.Counters().readCounters(into: &readings)
        let http = HTTPCounters()
        http.recordClose(code: 1000)
        http.recordResponse(route: ("/healthz", false), status: 200)
        http.readCounters(into: &readings)
        ProcessStatistics.read()?.record(into: &readings)
        MachineStatistics.read().record(into: &readings)
        let text = String(decoding: MetricsRegistry().exposition(readings), as: UTF8.self)
        let families = Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.prefix { $0 != "{" && $0 != " " } })
        XCTAssertGreaterThan(families.count, 30)
        for family in families {
            XCTAssertTrue(text.contains("# HELP \(family) "), "HELP of \(family)")
            XCTAssertTrue(text.contains("# TYPE \(family) "), "TYPE of \(family)")
        }
    }

    func testRequestsAreLabelledByRoutePattern() {
        var router = Router()
        router.addWebSocket("/") { _, _, _ in }
        router.add("GET", "/metrics") { _, respond in respond(HTTPResponse(status: 200, headers: [], body: [])) }
        router.add("GET", "/nodes/{id}/logs") { _, respond in respond(HTTPResponse(status: 200, headers: [], body: [])) }
        router.addPrefix("GET", "/dashboard") { _, respond in respond(HTTPResponse(status: 200, headers: [], body: [])) }
        let http = HTTPCounters()
        for (path, status) in [("/nodes/7/logs", 200), ("/nodes/8/logs/", 200), ("/dashboard/css/a.css", 200),
                               ("/metrics", 200), ("/", 101), ("/", 400), ("/nope", 404), ("invalid", 400)] {
            http.recordResponse(route: router.routePattern(forPath: path), status: status)
        }
        XCTAssertEqual(http.requests.values, [
            ["/nodes/{id}/logs", "200"]: 2, ["/dashboard/*", "200"]: 1, ["/metrics", "200"]: 1, ["/", "101"]: 1,
            ["/", "400"]: 1, ["unmatched", "404"]: 1, ["unmatched", "400"]: 1,
        ])
        XCTAssertEqual(http.requestsExceptWebSocketsAndMetrics.value, 5, "not /metrics, not the two on the WebSocket route")
    }

    private func lines(_ bytes: [UInt8]) -> Set<String> {
        Set(String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init))
    }
}
