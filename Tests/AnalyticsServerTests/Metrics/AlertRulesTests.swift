import Foundation
@testable import TestSupport
import XCTest

/// deploy/prometheus/tetcore-alerts.yml: valid for promtool, every alert
/// unit-tested (firing and not) by tetcore-alerts.test.yml, and every
/// series it uses one the server exposes.
final class AlertRulesTests: XCTestCase {
    static let directory = ServerProcess.repositoryRoot.appendingPathComponent("deploy/prometheus")
    static let alertNames = ["TetcoreNodeStoppedImporting", "TetcoreChainStalled", "TetcoreFinalityLagHigh",
                             "TetcoreOnlineNodesDropped", "TetcoreBlockPropagationSlow"]

    func testPromtoolChecksTheRules() throws {
        let check = try ChildProcess.run(try PrometheusPackage.path(of: "promtool"), ["check", "rules", "tetcore-alerts.yml"],
                                         directory: Self.directory)
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains("SUCCESS: 5 rules found"), check.output)
    }

    func testEveryAlertFiresInItsUnitTestAndOnlyThere() throws {
        let run = try ChildProcess.run(try PrometheusPackage.path(of: "promtool"), ["test", "rules", "tetcore-alerts.test.yml"],
                                       directory: Self.directory)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("SUCCESS"), run.output)
        let rules = try String(contentsOf: Self.directory.appendingPathComponent("tetcore-alerts.yml"), encoding: .utf8)
        let tests = try String(contentsOf: Self.directory.appendingPathComponent("tetcore-alerts.test.yml"), encoding: .utf8)
        let defined = rules.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
        }
        XCTAssertEqual(defined, Self.alertNames)
        for name in Self.alertNames {
            // Each alert has a test time where it must not fire and one where it must.
            let blocks = tests.components(separatedBy: "alertname: \(name)\n").dropFirst()
            XCTAssertEqual(blocks.count, 2, name)
            XCTAssertTrue(blocks.contains { $0.hasPrefix("        exp_alerts: []") }, "\(name) has a case where it stays quiet")
            XCTAssertTrue(blocks.contains { $0.hasPrefix("        exp_alerts:\n") }, "\(name) has a case where it fires")
        }
    }
}
