import Foundation
import XCTest

/// The real tetcore-analytics executable, started as a separate process on
/// a free port with the given settings.
final class ServerProcess {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let executable = productsDirectory.appendingPathComponent("tetcore-analytics").path

    /// Where this build put its products: next to the running test bundle,
    /// so a build in another folder (SCRATCH_PATH, a sanitizer build) runs
    /// its own executables; .build/debug when that cannot be told.
    static let productsDirectory: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: beside.appendingPathComponent("tetcore-analytics").path) {
            return beside
        }
        return repositoryRoot.appendingPathComponent(".build/debug")
    }()

    let process = Process()
    let port: Int
    /// Just before the process was started.
    private(set) var launchedAt = Date()
    private let output = Pipe()
    private var collected = Data()
    private let lock = NSLock()

    init(environment: [String: String], arguments: [String] = ["serve"], waitUntilReady: Bool = true) throws {
        port = ServerProcess.freePort()
        process.executableURL = URL(fileURLWithPath: ServerProcess.executable)
        process.arguments = arguments
        process.currentDirectoryURL = ServerProcess.repositoryRoot
        var env = ["PORT": String(port), "HOST": "127.0.0.1", "PATH": "/usr/bin:/bin", "LOG_LEVEL": "debug"]
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = output
        process.standardError = output
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            self?.lock.lock()
            self?.collected.append(data)
            self?.lock.unlock()
        }
        launchedAt = Date()
        try process.run()
        if waitUntilReady {
            eventually(60, "server ready on port \(port)") { self.log.contains("database schema is up to date") }
            eventually(60, "write pool ready") { (try? self.get("/readyz").status) == 200 }
            if !process.isRunning {
                XCTFail("tetcore-analytics ended while starting (\(process.terminationReason == .uncaughtSignal ? "signal" : "status") "
                    + "\(process.terminationStatus)); its log ends:\n\(log.suffix(3000))")
            }
        }
    }

    var log: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: collected, as: UTF8.self)
    }

    func terminate(signal: Int32 = SIGTERM) -> Int32 {
        // Only while it runs: once reaped, its pid may be another process's.
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGTERM, then answer the server's 1001 close on `client` as a node
    /// would; returns the close code the server sent and its exit status.
    func shutDown(answering client: RawClient) throws -> (closeCode: UInt16, exitStatus: Int32) {
        kill(process.processIdentifier, SIGTERM)
        let code = try client.readCloseCode()
        try client.send(RawClient.frame(opcode: 0x8, [0x03, 0xE9]))
        process.waitUntilExit()
        return (code, process.terminationStatus)
    }

    deinit {
        if process.isRunning { _ = terminate(signal: SIGKILL) }
        output.fileHandleForReading.readabilityHandler = nil
    }

    /// One HTTP request over a fresh connection; returns status and body.
    func get(_ path: String) throws -> (status: Int, body: String) {
        let client = try RawClient(port: port)
        try client.send("GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        return try client.readHTTPResponse()
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
