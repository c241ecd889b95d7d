import Foundation
@testable import TestSupport
import XCTest

/// A real Prometheus (Debian's package) on loopback, scraping one target
/// every second, with its configuration and storage in a private
/// temporary directory that goes with it.
final class PrometheusServer {
    static let job = "tetcore-analytics"

    let port: Int
    private let process = Process()
    private let directory: URL
    private let output = Pipe()

    init(scraping targetPort: Int) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: \(PrometheusServer.job)
                static_configs:
                  - targets: ['127.0.0.1:\(targetPort)']

            """
        let configurationFile = directory.appendingPathComponent("prometheus.yml")
        try configuration.write(to: configurationFile, atomically: true, encoding: .utf8)
        port = ServerProcess.freePort()
        process.executableURL = URL(fileURLWithPath: try PrometheusPackage.path(of: "prometheus"))
        process.arguments = [
            "--config.file=\(configurationFile.path)",
            "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)",
            "--log.level=warn",
        ]
        process.currentDirectoryURL = directory
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The value of an instant query that must yield exactly one sample;
    /// nil while Prometheus is not up or the series has no sample yet.
    func value(of query: String) throws -> Double? {
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
        let client = try RawClient(port: port)
        try client.send("GET /api/v1/query?query=\(encoded) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let response = try client.readHTTPResponse()
        guard response.status == 200,
              let reply = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
              reply["status"] as? String == "success",
              let data = reply["data"] as? [String: Any],
              let result = data["result"] as? [[String: Any]]
        else { throw TestFailure("query \(query) failed: \(response.status) \(response.body)") }
        guard result.count == 1, let sample = result[0]["value"] as? [Any], sample.count == 2,
              let text = sample[1] as? String else { return nil }
        return Double(text)
    }
}
