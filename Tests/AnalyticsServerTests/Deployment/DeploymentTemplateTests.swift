@testable import AnalyticsServer
import Foundation
@testable import TestSupport
import XCTest

/// deployment.template.yml, rendered as docs/operations.md says (its
/// envsubst command, with the values it shows), is valid Kubernetes
/// (kubernetes-validate, strict) and agrees with the server: its settings
/// exist, its probes are the server's health routes, and the grace period
/// leaves room for the shutdown flush.
final class DeploymentTemplateTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    private static let template = repository.appendingPathComponent("deployment.template.yml")
    /// The page whose envsubst command renders the template.
    private static let operationsPage = repository.appendingPathComponent("docs/operations.md")

    /// The `NAME=value` words before `envsubst` in docs/operations.md's
    /// render command (a command may continue over lines ending in `\`).
    private func documentedValues() throws -> [String: String] {
        let page = try String(contentsOf: Self.operationsPage, encoding: .utf8).replacingOccurrences(of: "\\\n", with: " ")
        let command = try XCTUnwrap(page.split(separator: "\n").first { $0.contains("envsubst < deployment.template.yml") },
                                    "docs/operations.md shows no envsubst command")
        var values: [String: String] = [:]
        for word in command.split(separator: " ").prefix(while: { $0 != "envsubst" }) {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    private func rendered() throws -> String {
        var text = try String(contentsOf: Self.template, encoding: .utf8)
        for (name, value) in try documentedValues() { text = text.replacingOccurrences(of: "${\(name)}", with: value) }
        return text
    }

    func testEveryPlaceholderIsOneTheOperationsPageNames() throws {
        let values = try documentedValues()
        XCTAssertFalse(values.isEmpty, "docs/operations.md's envsubst command sets no placeholder")
        let template = try String(contentsOf: Self.template, encoding: .utf8)
        for name in values.keys.sorted() {
            XCTAssertTrue(template.contains("${\(name)}"), "docs/operations.md sets \(name), which the template does not use")
        }
        XCTAssertNil(try rendered().range(of: #"\$\{[A-Z_]+\}"#, options: .regularExpression),
                     "a placeholder that docs/operations.md does not set is left")
    }

    func testTheRenderedTemplateIsValidKubernetes() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("deployment-\(UUID().uuidString).yml")
        try rendered().write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try ChildProcess.run("/usr/bin/env", ["python3", "-m", "kubernetes_validate", "--strict", file.path])
        let text = run.output
        XCTAssertEqual(run.status, 0, "kubernetes-validate (scripts/test installs it from PyPI): \(text)")
        for kind in ["configmap", "deployment", "service", "poddisruptionbudget", "horizontalpodautoscaler"] {
            XCTAssertTrue(text.contains("passed for resource \(kind)/tetcore-analytics"), text)
        }
        XCTAssertTrue(text.contains("passed for resource service/tetcore-analytics-ingest"), text)
        // The Prometheus Operator's schema is not among Kubernetes' own:
        // the validator skips it (checked below by hand), and nothing else.
        let skipped = text.split(separator: "\n").filter { $0.hasPrefix("WARN") }
        XCTAssertEqual(skipped.count, 1, text)
        XCTAssertTrue(skipped.first?.contains("kind ServiceMonitor with api version monitoring.coreos.com/v1") ?? false, text)
    }

    func testTheServiceMonitorScrapesTheServicesMetricsPort() throws {
        let documents = try rendered().components(separatedBy: "\n---\n")
        let monitor = try XCTUnwrap(documents.first { $0.contains("kind: ServiceMonitor") })
        let service = try XCTUnwrap(documents.first { $0.contains("kind: Service\n") && $0.contains("name: tetcore-analytics\n") })
        XCTAssertTrue(monitor.contains("app.kubernetes.io/name: tetcore-analytics"), "selects the Service's label")
        XCTAssertTrue(service.contains("    app.kubernetes.io/name: tetcore-analytics"), "the Service carries that label")
        XCTAssertTrue(monitor.contains("- port: http") && service.contains("- name: http"), "scrapes a port the Service names")
        XCTAssertTrue(monitor.contains("path: /metrics"))
    }

    func testNodesComeInThroughAnAllowlistingLoadBalancerThatKeepsTheirAddress() throws {
        let documents = try rendered().components(separatedBy: "\n---\n")
        let ingest = try XCTUnwrap(documents.first { $0.contains("name: tetcore-analytics-ingest") })
        XCTAssertTrue(ingest.contains("type: LoadBalancer"))
        XCTAssertTrue(ingest.contains("loadBalancerSourceRanges: [203.0.113.0/24,2001:db8::/32]"), ingest)
        XCTAssertTrue(ingest.contains("externalTrafficPolicy: Local"), "ip_addr must be the node's, not a cluster node's")
        let configMap = try XCTUnwrap(documents.first { $0.contains("kind: ConfigMap") })
        XCTAssertTrue(configMap.contains("INGEST_ALLOW: \"203.0.113.0/24,2001:db8::/32\""), "the server checks the same networks")
        XCTAssertTrue(try rendered().contains("maxUnavailable: 0"), "rolling updates keep every instance until its successor is ready")
    }

    func testItsSettingsProbesAndGracePeriodAgreeWithTheServer() throws {
        let text = try rendered()
        let configMap = try XCTUnwrap(text.components(separatedBy: "\n---\n").first { $0.contains("kind: ConfigMap") })
        let settings = Set(SettingsTable.all.map(\.name))
        var values: [String: String] = [:]
        var inData = false
        for line in configMap.split(separator: "\n") {
            if line == "data:" { inData = true; continue }
            guard inData, line.hasPrefix("  "), !line.trimmingCharacters(in: .whitespaces).hasPrefix("#") else { continue }
            let parts = line.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1)
            let name = String(parts[0])
            XCTAssertTrue(settings.contains(name), "\(name) is not a setting of the server")
            values[name] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
        }
        XCTAssertNoThrow(try Settings.load(environment: values, dotEnvPath: nil), "the ConfigMap's values parse")
        // Every setting is there, but the secrets, which come from the Secret.
        let secrets: Set = ["DATABASE_URL", "API_TOKEN", "DATABASE_READ_URL"]
        XCTAssertEqual(settings.subtracting(secrets).subtracting(values.keys).sorted(), [], "settings missing from the ConfigMap")
        for name in secrets {
            XCTAssertNil(values[name], "\(name) is a secret")
            XCTAssertTrue(text.contains("- name: \(name)\n              valueFrom:\n                secretKeyRef:"), name)
        }
        let shutdown = try XCTUnwrap(Int(values["SHUTDOWN_TIMEOUT_S"] ?? ""))
        let grace = try XCTUnwrap(text.firstMatch(#"terminationGracePeriodSeconds: (\d+)"#).flatMap { Int($0) })
        XCTAssertLessThan(shutdown, grace, "the flush must end before the kubelet's SIGKILL")
        XCTAssertTrue(text.contains("path: /healthz"))
        XCTAssertTrue(text.contains("path: /readyz"))
    }
}

private extension String {
    func firstMatch(_ pattern: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: self, range: NSRange(startIndex..., in: self)),
              let range = Range(match.range(at: 1), in: self) else { return nil }
        return String(self[range])
    }
}
