import Foundation
@testable import TestSupport
import XCTest

/// One /metrics body, its samples by series as written ("name" or
/// "name{label=\"value\"}").
struct Scrape {
    let text: String
    let samples: [String: Double]

    init(_ text: String) {
        self.text = text
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        self.samples = samples
    }

    subscript(series: String) -> Double? { samples[series] }

    static func of(_ server: ServerProcess) throws -> Scrape {
        let response = try server.get("/metrics")
        guard response.status == 200 else { throw TestFailure("/metrics answered \(response.status)") }
        return Scrape(response.body)
    }
}

/// Runs one of the Debian `prometheus` package's programs; fails clearly
/// when it is not installed.
enum PrometheusPackage {
    static func path(of program: String) throws -> String {
        let path = "/usr/bin/\(program)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestFailure("\(path) not found: install Debian's prometheus package (scripts/lib/deps.sh lists it)")
        }
        return path
    }

    /// `promtool check metrics` on `exposition`: exit status and output.
    static func checkMetrics(_ exposition: String) throws -> (status: Int32, output: String) {
        let outcome = try ChildProcess.run(try path(of: "promtool"), ["check", "metrics"], input: Data(exposition.utf8))
        return (outcome.status, outcome.output)
    }
}
