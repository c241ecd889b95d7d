@testable import TestSupport
import XCTest

/// A bad setting stops the real executable with status 2 and one line.
final class ExecutableConfigTests: XCTestCase {
    func testBadValueExitsWithStatus2NamingTheVariable() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServerProcess.executable)
        process.arguments = ["serve"]
        process.environment = ["PORT": "80a", "PATH": "/usr/bin:/bin"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertTrue(output.contains(#"PORT="80a""#), output)
        XCTAssertEqual(output.split(separator: "\n").count, 1)
    }
}
