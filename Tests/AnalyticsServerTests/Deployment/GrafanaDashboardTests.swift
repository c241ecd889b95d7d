import Foundation
@testable import TestSupport
import XCTest

/// The Grafana dashboards of deploy/grafana/, their queries run as Grafana
/// would run them (GrafanaQuery: variables, intervals, macros): every
/// PostgreSQL panel against a database that synthetic nodes filled, with
/// rows back and an index used when the range is small; every Prometheus
/// panel through a real Prometheus scraping the server, with samples back.
final class GrafanaDashboardTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "20"] }

    /// A partition with fewer rows than this may be read whole: scanning it
    /// is what the planner should do.
    private static let smallPartitionRows = 10_000

    func testEveryPostgreSQLPanelReturnsRowsAndUsesAnIndexOnASmallRange() throws {
        let dashboard = try GrafanaDashboard(file: "tetcore-telemetry.json")
        XCTAssertGreaterThanOrEqual(dashboard.targets.count, 7)
        // Ten nodes send what the panels read, stamped now.
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", "ws://127.0.0.1:\(server.port)", "--nodes", "10", "--rate", "200", "--messages-per-node", "60",
            "--kinds", "system.interval,tracing.profiling,block.import,system.network_state", "--verify", database.url,
        ])
        XCTAssertEqual(status, 0, "\(summary)")
        // A day's worth of another node's rows around them, so that the
        // planner has a real choice between reading a partition and its index.
        try database.query("""
            INSERT INTO peer_connections (ip_addr, peer_id, name) VALUES ('192.0.2.1', 'BackgroundNode', 'background');
            INSERT INTO tetcore_logs (created_at, logs, peer_connection_id, audit)
            SELECT date_trunc('day', now() AT TIME ZONE 'utc') + n * interval '576 milliseconds',
                   jsonb_build_object('msg', 'system.interval', 'peers', n % 40, 'bandwidth_download', n % 1000, 'bandwidth_upload', n % 700),
                   (SELECT id FROM peer_connections WHERE peer_id = 'BackgroundNode'), false
            FROM generate_series(0, 149999) AS n;
            ANALYZE tetcore_logs;
            ANALYZE peer_connections;
            """)
        let partitionRows = Dictionary(uniqueKeysWithValues: try database.query("""
            SELECT c.relname, c.reltuples::bigint::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'tetcore_logs'::regclass
            """).compactMap { row in row[0].map { ($0, Int(row[1] ?? "") ?? 0) } })

        let now = Date()
        let small = (from: now.addingTimeInterval(-15 * 60), to: now.addingTimeInterval(60))
        let wide = (from: now.addingTimeInterval(-6 * 3600), to: now.addingTimeInterval(60))
        for range in [small, wide] {
            var query = GrafanaQuery(from: range.from, to: range.to,
                                     intervalMs: GrafanaQuery.intervalMs(from: range.from, to: range.to, minimumMs: 10_000))
            // Every variable at "All": every value its own query finds.
            for variable in dashboard.variables {
                let values = try database.query(try query.expandSQL(variable.query)).compactMap { $0.first ?? nil }
                XCTAssertFalse(values.isEmpty, "variable \(variable.name) has no values")
                query.variables[variable.name] = values
            }
            for target in dashboard.targets {
                let label = "\(target.panel) \(target.refId)"
                let sql = try query.expandSQL(target.query)
                let json = try XCTUnwrap(try database.scalar("SELECT coalesce(json_agg(q), '[]')::text FROM (\(sql)) q"), label)
                let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]], label)
                XCTAssertFalse(rows.isEmpty, "\(label): no rows for \(range)")
                if target.format == "time_series", let first = rows.first {
                    XCTAssertTrue(first["time"] is NSNumber, "\(label): a time column in seconds: \(first)")
                    XCTAssertTrue(first["metric"] is String && first["value"] is NSNumber, "\(label): metric and value: \(first)")
                }
                guard range.from == small.from else { continue }
                let plan = try XCTUnwrap(try database.scalar("EXPLAIN (FORMAT JSON) \(sql)"), label)
                let scans = Self.scans(in: try JSONSerialization.jsonObject(with: Data(plan.utf8)))
                    .filter { $0.relation.hasPrefix("tetcore_logs") }
                XCTAssertFalse(scans.isEmpty, "\(label) reads tetcore_logs")
                XCTAssertTrue(scans.contains { $0.node.contains("Index") }, "\(label): no index on a 15-minute range:\n\(plan)")
                for scan in scans where scan.node == "Seq Scan" {
                    XCTAssertLessThan(partitionRows[scan.relation] ?? Int.max, Self.smallPartitionRows,
                                      "\(label) reads all of \(scan.relation) on a 15-minute range:\n\(plan)")
                }
            }
        }
    }

    func testEveryPrometheusPanelHasSamplesFromARealPrometheus() throws {
        let dashboard = try GrafanaDashboard(file: "tetcore-server.json")
        XCTAssertGreaterThanOrEqual(dashboard.targets.count, 10)
        let prometheus = try PrometheusServer(scraping: server.port)
        let job = PrometheusServer.job
        eventually(30, "the target up in Prometheus") { try prometheus.value(of: #"up{job="\#(job)"}"#) == 1 }
        // Nodes send for a while, so that every rate has moved.
        let (status, _) = try LoadgenProcess.runJSON([
            "--url", "ws://127.0.0.1:\(server.port)", "--nodes", "20", "--rate", "20", "--duration", "6s", "--verify", database.url,
        ])
        XCTAssertEqual(status, 0)
        eventually(20, "a few scrapes after the traffic") {
            (try prometheus.value(of: #"count_over_time(up{job="\#(job)"}[15s])"#) ?? 0) >= 8
        }

        let end = Date()
        let start = end.addingTimeInterval(-60)
        var query = GrafanaQuery(from: start, to: end, intervalMs: GrafanaQuery.intervalMs(from: start, to: end, minimumMs: 1_000))
        query.scrapeIntervalMs = 1_000
        for variable in dashboard.variables {
            let values = try labelValues(prometheus, variable.query.replacingOccurrences(of: "$job", with: job))
            XCTAssertFalse(values.isEmpty, "variable \(variable.name): \(variable.query)")
            query.variables[variable.name] = variable.allValue.map { [$0] } ?? [values[0]]
        }
        for target in dashboard.targets {
            let expression = query.interpolate(target.query, .prometheus)
            XCTAssertFalse(expression.contains("$"), "\(target.panel) \(target.refId): \(expression)")
            let series = try range(prometheus, expression, start: start, end: end)
            let finite = series.flatMap { $0 }.filter(\.isFinite)
            XCTAssertFalse(finite.isEmpty, "\(target.panel) \(target.refId): no sample for \(expression)")
        }
    }

    // MARK: Helpers

    /// Every scan node of an EXPLAIN (FORMAT JSON) plan: its type and relation.
    private static func scans(in plan: Any) -> [(node: String, relation: String)] {
        var found: [(node: String, relation: String)] = []
        func walk(_ value: Any) {
            if let object = value as? [String: Any] {
                if let node = object["Node Type"] as? String, let relation = object["Relation Name"] as? String {
                    found.append((node, relation))
                }
                object.values.forEach(walk)
            } else if let array = value as? [Any] {
                array.forEach(walk)
            }
        }
        walk(plan)
        return found
    }

    /// `label_values(SELECTOR, LABEL)` as Grafana's Prometheus datasource
    /// answers it: the label's values on the series the selector matches.
    private func labelValues(_ prometheus: PrometheusServer, _ definition: String) throws -> [String] {
        guard let open = definition.firstIndex(of: "("), let comma = definition.lastIndex(of: ","), definition.hasSuffix(")") else {
            throw TestFailure("not label_values(SELECTOR, LABEL): \(definition)")
        }
        let selector = definition[definition.index(after: open)..<comma].trimmingCharacters(in: .whitespaces)
        let label = definition[definition.index(after: comma)..<definition.index(before: definition.endIndex)]
            .trimmingCharacters(in: .whitespaces)
        let reply = try api(prometheus, "/api/v1/label/\(label)/values?match[]=\(Self.encoded(selector))")
        return reply as? [String] ?? []
    }

    /// A range query: each series' values (NaN and infinities as sent).
    private func range(_ prometheus: PrometheusServer, _ expression: String, start: Date, end: Date) throws -> [[Double]] {
        let path = "/api/v1/query_range?query=\(Self.encoded(expression))&start=\(start.timeIntervalSince1970)"
            + "&end=\(end.timeIntervalSince1970)&step=1"
        guard let data = try api(prometheus, path) as? [String: Any], let result = data["result"] as? [[String: Any]] else {
            throw TestFailure("query_range \(expression): no matrix")
        }
        return result.map { series in
            (series["values"] as? [[Any]] ?? []).compactMap { pair in (pair.last as? String).flatMap(Double.init) }
        }
    }

    private func api(_ prometheus: PrometheusServer, _ path: String) throws -> Any? {
        let client = try RawClient(port: prometheus.port)
        try client.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let response = try client.readHTTPResponse()
        guard response.status == 200, let reply = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
              reply["status"] as? String == "success" else {
            throw TestFailure("Prometheus \(path): \(response.status) \(response.body)")
        }
        return reply["data"]
    }

    private static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }
}
