import Foundation
@testable import TestSupport
import XCTest

/// The real tetcore-loadgen executable, run to completion or started in the
/// background, with its stdout and stderr collected.
final class LoadgenProcess {
    static let executable = ServerProcess.productsDirectory.appendingPathComponent("tetcore-loadgen").path

    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private var collected = Data()
    private var collectedErrors = Data()
    private let lock = NSLock()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: LoadgenProcess.executable)
        process.arguments = arguments
        process.currentDirectoryURL = ServerProcess.repositoryRoot
        // scripts/test turns leak detection off for the test runner alone
        // (LSAN_OPTIONS): the generator's own leaks must be reported.
        var environment = ProcessInfo.processInfo.environment
        environment["LSAN_OPTIONS"] = nil
        process.environment = environment
        process.standardOutput = output
        process.standardError = errors
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            self?.lock.lock()
            self?.collected.append(data)
            self?.lock.unlock()
        }
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            self?.lock.lock()
            self?.collectedErrors.append(data)
            self?.lock.unlock()
        }
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        output.fileHandleForReading.readabilityHandler = nil
        errors.fileHandleForReading.readabilityHandler = nil
    }

    /// Waits for the exit (at most `seconds`); returns the exit status.
    func wait(_ seconds: Double = 120) throws -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw TestFailure("tetcore-loadgen still running after \(seconds) s; stderr: \(stderr)")
            }
            usleep(20_000)
        }
        // Let the readability handlers take the last bytes.
        usleep(100_000)
        return process.terminationStatus
    }

    var stdout: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: collected, as: UTF8.self)
    }

    var stderr: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: collectedErrors, as: UTF8.self)
    }

    /// Runs with `arguments` and `--json`; returns the exit status and the
    /// parsed summary.
    static func runJSON(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, summary: [String: Any]) {
        let run = try LoadgenProcess(arguments + ["--json"])
        let status = try run.wait()
        let text = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw TestFailure("--json printed no JSON object: \(text); stderr: \(run.stderr)")
        }
        return (status, object)
    }
}
