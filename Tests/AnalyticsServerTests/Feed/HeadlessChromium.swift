import Foundation
@testable import TestSupport
import XCTest

/// A page in headless Chromium, driven by scripts/lib/dashboard_check.py
/// over the DevTools protocol: the rendered DOM once a JavaScript
/// expression is true, the browser's errors, and a screenshot.
struct RenderedPage {
    let ready: Bool
    let dom: String
    let errors: [String]

    /// The value of `name="…"` on the element with `id`, from the DOM.
    func attribute(_ name: String, of id: String) -> String? {
        guard let element = dom.range(of: #"id="\#(id)""#) else { return nil }
        let tagStart = dom[..<element.lowerBound].lastIndex(of: "<") ?? element.lowerBound
        let tagEnd = dom[element.upperBound...].firstIndex(of: ">") ?? dom.endIndex
        let tag = dom[tagStart..<tagEnd]
        guard let found = tag.range(of: #" \#(name)=""#) else { return nil }
        return String(tag[found.upperBound...].prefix { $0 != "\"" })
    }
}

enum HeadlessChromium {
    /// Where screenshots go: .build/dashboard-screenshots (printed by the tests).
    static let screenshots: URL = {
        let folder = ServerProcess.repositoryRoot.appendingPathComponent(".build/dashboard-screenshots")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }()

    static let desktop = "1280,900"
    static let phone = "390,844"

    /// Starts the browser on `url`; the returned function waits for the result.
    /// `dark`: the page is told the system prefers a dark theme.
    static func launch(_ url: String, screenshot: String, ready: String, timeoutS: Int = 60,
                       size: String = desktop, dark: Bool = false) throws -> (process: Process, result: () throws -> RenderedPage) {
        let script = ServerProcess.repositoryRoot.appendingPathComponent("scripts/lib/dashboard_check.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, url, screenshots.appendingPathComponent(screenshot).path, ready, String(timeoutS), size]
        if dark { process.environment = ProcessInfo.processInfo.environment.merging(["DASHBOARD_COLOR_SCHEME": "dark"]) { $1 } }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        return (process, { try result(of: process, output: output) })
    }

    static func open(_ url: String, screenshot: String, ready: String, size: String = desktop, dark: Bool = false) throws -> RenderedPage {
        try launch(url, screenshot: screenshot, ready: ready, size: size, dark: dark).result()
    }

    private static func result(of process: Process, output: Pipe) throws -> RenderedPage {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("dashboard_check.py failed (\(process.terminationStatus)): \(String(decoding: data, as: UTF8.self))")
        }
        return RenderedPage(ready: object["ready"] as? Bool ?? false, dom: object["dom"] as? String ?? "",
                            errors: object["errors"] as? [String] ?? [])
    }
}
