import Foundation

/// Runs a program to its end with stdout and stderr collected together
/// (promtool, python3 tools, mount): the tests' one way of doing so.
enum ChildProcess {
    struct Outcome {
        let status: Int32
        let output: String
    }

    /// Longer than the slowest program the tests run (a container image
    /// build on a cold machine).
    static let limitSeconds = 900.0

    /// Runs `executable` and waits for it for at most `limitSeconds` (its
    /// output closed and its exit); past that it is killed and the run
    /// throws, naming it, so a stuck program fails its test instead of
    /// hanging the suite.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    directory: URL? = nil, input: Data? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = input.map { _ in Pipe() }
        if let stdin { process.standardInput = stdin }
        try process.run()
        if let stdin, let input {
            stdin.fileHandleForWriting.write(input)
            try stdin.fileHandleForWriting.close()
        }
        // Reading to the end waits for the program to close its output; on
        // a thread of its own, so that the wait can be bounded.
        let collected = Collected()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            collected.set(output.fileHandleForReading.readDataToEndOfFile())
            done.signal()
        }
        guard done.wait(timeout: .now() + limitSeconds) == .success else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) still running after \(Int(limitSeconds)) s; killed")
        }
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: String(decoding: collected.get(), as: UTF8.self))
    }

    /// The output, handed from the reading thread to the caller.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func set(_ value: Data) { lock.withLock { data = value } }
        func get() -> Data { lock.withLock { data } }
    }
}
