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
    private let collected = Collected()
    private let collectedErrors = Collected()
    /// Left when each pipe's reader has reached EOF.
    private let readers = DispatchGroup()

    /// What one pipe delivered so far; its reader thread holds this, not
    /// the process object, so that `deinit` still ends a forgotten run.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()

        func append(_ more: Data) { lock.withLock { data.append(more) } }
        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    }

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
        try process.run()
        // One reader per pipe, each to EOF: the generator's last bytes are
        // in once both readers are done, however late they were written.
        for (pipe, into) in [(output, collected), (errors, collectedErrors)] {
            let handle = pipe.fileHandleForReading, readers = readers
            readers.enter()
            Thread.detachNewThread {
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    into.append(data)
                }
                readers.leave()
            }
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits for the exit and for its stdout and stderr to be read to EOF
    /// (at most `seconds` for both); returns the exit status.
    func wait(_ seconds: Double = 120) throws -> Int32 {
        guard readers.wait(timeout: .now() + seconds) == .success else {
            kill(process.processIdentifier, SIGKILL)
            throw TestFailure("tetcore-loadgen still running after \(seconds) s; stderr: \(stderr)")
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGINT, as Ctrl-C: the generator stops sending, closes its nodes,
    /// verifies if asked and prints its summary.
    func interrupt() {
        // Only while it runs: once reaped, its pid may be another process's.
        if process.isRunning { kill(process.processIdentifier, SIGINT) }
    }

    var stdout: String { collected.text }

    var stderr: String { collectedErrors.text }

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
