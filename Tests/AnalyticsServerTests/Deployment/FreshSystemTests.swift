import Foundation
@testable import TestSupport
import XCTest

/// The README's promise, "on a fresh Debian 12 machine with Swift
/// installed": a Debian 12 tree as debootstrap makes it (minbase, nothing
/// else; the one the image test slims), the Swift toolchain mounted
/// read-only from this machine, a copy of the repository's files. In it:
/// scripts/test's set-up (SETUP_ONLY=1: Debian packages, the Python
/// virtual environment and its tools), then scripts/run, which builds and
/// serves with its embedded PostgreSQL until /readyz says ready; SIGTERM
/// then stops it cleanly.
final class FreshSystemTests: XCTestCase {
    private var directory: URL?
    private let container = "tetcore-fresh-\(getpid())"

    override func setUpWithError() throws {
        try Podman.requireOrSkip()
    }

    override func tearDown() {
        _ = try? Podman.run(["rm", "-f", "-t", "0", container])
        if let directory { _ = try? ChildProcess.run("/bin/rm", ["-rf", directory.path]) }
    }

    func testScriptsTestSetsUpAndScriptsRunBuildsAndServesOnAFreshDebian12() throws {
        let started = Date()
        let made = try Podman.shell("ensure_rootfs && printf '%s\\n' \"$ROOTFS_DIR\"")
        XCTAssertEqual(made.status, 0, made.output)
        let rootfs = try XCTUnwrap(made.output.split(separator: "\n").last.map(String.init))
        print("fresh system: rootfs ready after \(secondsSince(started))")

        // A copy of the tree (the cache stays as debootstrap left it) with
        // the repository's files (tracked and new, not ignored) in /src.
        let directory = URL(fileURLWithPath: "/var/tmp/tetcore-fresh-\(getpid())")
        self.directory = directory
        let root = directory.appendingPathComponent("root").path
        let copy = try ChildProcess.run("/bin/bash", ["-c", """
            set -euo pipefail
            rm -rf "$1" && mkdir -p "$1" && cp -a "$2" "$1/root" && mkdir "$1/root/src"
            git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$1/root/src" -xf -
            """, "copy", directory.path, rootfs], directory: ServerProcess.repositoryRoot)
        XCTAssertEqual(copy.status, 0, copy.output)

        // This machine's Swift: the toolchain, and where present the local
        // package copies and the git settings that point github.com at them.
        var mounts = ["-v", "/opt/swift:/opt/swift:ro"]
        for path in ["/opt/swift-packages", "/etc/gitconfig"] where FileManager.default.fileExists(atPath: path) {
            mounts += ["-v", "\(path):\(path):ro"]
        }
        // Where this machine's network inspects TLS, pip trusts its own
        // certificate bundle (PIP_CERT): a machine of this place would have it.
        var trust: [String] = []
        if let bundle = ProcessInfo.processInfo.environment["PIP_CERT"], FileManager.default.isReadableFile(atPath: bundle) {
            try FileManager.default.createDirectory(atPath: root + "/etc/ssl", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: bundle, toPath: root + "/etc/ssl/host-ca-bundle.crt")
            trust = ["-e", "PIP_CERT=/etc/ssl/host-ca-bundle.crt"]
        }
        let port = ServerProcess.freePort()
        let script = """
            set -e
            test ! -e /usr/bin/python3 && test ! -e /usr/bin/swift && echo 'fresh: no python3, no swift on PATH'
            SETUP_ONLY=1 scripts/test
            .tetcore/venv/bin/python3 -c 'import jsonschema, schemathesis, kubernetes_validate; import sys; print("venv python", sys.executable, sys.base_prefix)'
            exec scripts/run
            """
        let run = try Podman.run(["run", "-d", "--name", container, "--network", "host"] + mounts + trust + [
            "-w", "/src", "-e", "PORT=\(port)", "-e", "HOST=127.0.0.1", "-e", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--rootfs", root, "/bin/bash", "-c", script,
        ])
        XCTAssertEqual(run.status, 0, run.output)
        let logs = { [container] in (try? Podman.run(["logs", container]).output) ?? "" }
        let running = { (try? Podman.inspect(self.container, "{{.State.Running}}")) == "true" }

        // Packages, the environment and a release build: minutes.
        let deadline = Date().addingTimeInterval(1500)
        var ready = false
        while Date() < deadline && running() {
            if let client = try? RawClient(port: port),
               (try? client.send("GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")) != nil,
               let response = try? client.readHTTPResponse(), response.status == 200 {
                ready = true
                break
            }
            sleep(2)
        }
        let output = logs()
        XCTAssertTrue(ready, "scripts/run did not answer /readyz (container \(running() ? "still running" : "ended")):\n\(output)")
        guard ready else { return }
        print("fresh system: /readyz answered after \(secondsSince(started))")
        XCTAssertTrue(output.contains("fresh: no python3, no swift on PATH"), output)
        XCTAssertTrue(output.contains("set-up done (SETUP_ONLY=1)"), output)
        XCTAssertTrue(output.contains("venv python /src/.tetcore/venv/bin/python3 /usr"), "Debian's python3 with the project's environment:\n\(output)")
        let health = try RawClient(port: port)
        try health.send("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(try health.readHTTPResponse().status, 200)

        // scripts/run exec'd the server: SIGTERM reaches it, and it stops
        // its embedded PostgreSQL and exits 0.
        XCTAssertEqual(try Podman.run(["kill", "--signal", "TERM", container]).status, 0)
        let exit = try Podman.run(["wait", container])
        XCTAssertEqual(exit.output.trimmingCharacters(in: .whitespacesAndNewlines), "0", logs())
    }
}
