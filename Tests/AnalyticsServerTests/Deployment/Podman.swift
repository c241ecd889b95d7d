import Foundation
@testable import TestSupport
import XCTest

/// Rootful podman as it runs on this kind of machine: Debian's runc (crun
/// fails on its hybrid cgroups and rlimits) and a containers.conf without
/// default ulimits, given to every podman call through CONTAINERS_CONF.
/// Containers use the host's network, so they reach the test PostgreSQL on
/// loopback and the tests reach them there; nothing leaves the machine but
/// Debian package downloads.
enum Podman {
    static let executable = "/usr/bin/podman"

    /// Skips the test where podman cannot run, saying why, except in CI,
    /// where the container tests must run (scripts/test installs podman,
    /// runc and debootstrap; CI runs as root): there it fails instead. The
    /// sanitizer run skips them: they build and run the release binary,
    /// which a sanitizer build does not change.
    static func requireOrSkip() throws {
        if let sanitizer = SanitizedBuild.name {
            throw XCTSkip("container tests run in the plain suite only (this is the \(sanitizer) build)")
        }
        var reasons: [String] = []
        if getuid() != 0 { reasons.append("they need root (rootful podman, debootstrap)") }
        for program in [executable, "/usr/sbin/runc", "/usr/sbin/debootstrap"] where !FileManager.default.isExecutableFile(atPath: program) {
            reasons.append("\(program) is missing (scripts/test installs Debian's podman, runc and debootstrap)")
        }
        guard !reasons.isEmpty else { return }
        let message = "container tests cannot run here: " + reasons.joined(separator: "; ")
        if ProcessInfo.processInfo.environment["CI"] == "true" { throw TestFailure(message) }
        throw XCTSkip(message)
    }

    /// The process environment plus CONTAINERS_CONF.
    static let environment: [String: String] = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tetcore-podman-\(getpid())")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("containers.conf")
        let text = """
            # Written by the container tests (Tests/AnalyticsServerTests/Deployment/Podman.swift).
            [containers]
            default_ulimits = []

            [engine]
            runtime = "runc"

            """
        try? text.write(to: file, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["CONTAINERS_CONF"] = file.path
        // The children are judged by their own output, not LeakSanitizer.
        environment["LSAN_OPTIONS"] = nil
        return environment
    }()

    /// Output goes to a file, and podman starts with no descriptor beyond
    /// 0-2 (bash closes the others): `podman run -d` leaves conmon behind
    /// with podman's descriptors, and Foundation's Process learns that its
    /// child ended only when every holder of its own status descriptor has
    /// closed it, so without this the call returns only when the container
    /// is gone.
    @discardableResult
    static func run(_ arguments: [String]) throws -> ChildProcess.Outcome {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("podman-\(getpid())-\(UUID().uuidString).out")
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else { throw TestFailure("cannot create \(file.path)") }
        defer { try? FileManager.default.removeItem(at: file) }
        let output = try FileHandle(forWritingTo: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", """
            for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
            exec "$0" "$@"
            """, executable] + arguments
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try output.close()
        let text = String(decoding: try Data(contentsOf: file), as: UTF8.self)
        return ChildProcess.Outcome(status: process.terminationStatus, output: text)
    }

    /// A bash script with scripts/lib/deps.sh and rootfs.sh sourced, in the
    /// repository, with CONTAINERS_CONF set.
    static func shell(_ script: String, environment extra: [String: String] = [:]) throws -> ChildProcess.Outcome {
        let preamble = "source scripts/lib/deps.sh && source scripts/lib/rootfs.sh && "
        return try ChildProcess.run("/bin/bash", ["-c", preamble + script], environment: environment.merging(extra) { $1 },
                                    directory: ServerProcess.repositoryRoot)
    }

    /// `podman inspect --format FORMAT NAME`, trimmed.
    static func inspect(_ name: String, _ format: String, image: Bool = false) throws -> String {
        let outcome = try run(image ? ["image", "inspect", "--format", format, name] : ["inspect", "--format", format, name])
        guard outcome.status == 0 else { throw TestFailure("podman inspect \(name): \(outcome.output)") }
        return outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Seconds since `start`, for the timing lines the container tests print.
func secondsSince(_ start: Date) -> String {
    String(format: "%.0f s", Date().timeIntervalSince(start))
}

/// Where the image and install tests build the release binary (the same
/// command, so the second one finds it built): not .build, whose lock
/// `swift test` holds while the tests run.
enum ReleaseBuild {
    static let scratchPath = ServerProcess.repositoryRoot.appendingPathComponent(".build-release").path
}
