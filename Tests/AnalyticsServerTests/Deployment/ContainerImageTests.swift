import Foundation
@testable import TestSupport
import XCTest

/// scripts/build-image builds the image with podman (its base, the
/// debian:bookworm-slim the Containerfile names, is made here by
/// debootstrap: no registry is reachable), and the image runs as
/// deployment.template.yml runs it (its user, read-only root, no
/// capabilities) against the test PostgreSQL: synthetic nodes are stored,
/// its HEALTHCHECK passes, and SIGTERM flushes the rows it holds.
final class ContainerImageTests: XCTestCase {
    private var database: TestDatabase?
    private var containers: [String] = []
    private let image = "localhost/tetcore-analytics:test-\(getpid())"

    override func setUpWithError() throws {
        try Podman.requireOrSkip()
    }

    override func tearDown() {
        for name in containers { _ = try? Podman.run(["rm", "-f", "-t", "0", name]) }
        _ = try? Podman.run(["rmi", "-f", image])
        database?.drop()
    }

    func testTheImageStoresSyntheticNodesAndFlushesOnSIGTERM() throws {
        let started = Date()
        let base = try Podman.shell("import_base_image")
        XCTAssertEqual(base.status, 0, base.output)
        print("container image: base image ready after \(secondsSince(started))")
        // Its own build folder: `swift test` holds .build's lock while it runs.
        let build = try ChildProcess.run("/bin/bash", ["scripts/build-image", "--network", "host", "--pull=never"],
                                         environment: Podman.environment.merging(["IMAGE": image, "SCRATCH_PATH": ReleaseBuild.scratchPath]) { $1 },
                                         directory: ServerProcess.repositoryRoot)
        XCTAssertEqual(build.status, 0, build.output)
        let sizeLine = build.output.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(sizeLine.hasPrefix(image), build.output)
        print("container image: \(sizeLine), built after \(secondsSince(started))")
        try checkTheImagesConfiguration()

        // Run as the Kubernetes template runs it, with every batch of 20
        // rows written at once and a smaller one held for a minute.
        let database = try TestDatabase()
        self.database = database
        let port = ServerProcess.freePort()
        let name = "tetcore-test-\(getpid())"
        containers.append(name)
        let run = try Podman.run([
            "run", "-d", "--name", name, "--network", "host", "--read-only", "--user", "10001:10001", "--cap-drop", "ALL",
            // The HEALTHCHECK stays (podman healthcheck run, below); podman
            // says on stderr that it cannot schedule it without systemd.
            "--security-opt", "no-new-privileges",
            "-e", "DATABASE_URL=\(database.url)", "-e", "PORT=\(port)", "-e", "HOST=127.0.0.1",
            "-e", "DB_BATCH_SIZE=20", "-e", "DB_SAVE_LATENCY_MS=60000", image,
        ])
        XCTAssertEqual(run.status, 0, run.output)
        // The last lines: the settings the server logs first would fill a failure message.
        let logs = { ((try? Podman.run(["logs", name]).output) ?? "").split(separator: "\n").suffix(25).joined(separator: "\n")
            + "\n" + ((try? Podman.inspect(name, "{{.State.Status}} exit {{.State.ExitCode}} {{.State.Error}}")) ?? "") }
        eventually(60, "the container ready on port \(port): \(logs())") {
            let client = try RawClient(port: port)
            try client.send("GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            return try client.readHTTPResponse().status == 200
        }
        let health = try Podman.run(["healthcheck", "run", name])
        XCTAssertEqual(health.status, 0, "HEALTHCHECK: \(health.output)\n\(logs())")

        // 20 nodes × (system.connected + 19 messages): 20 whole batches.
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", "ws://127.0.0.1:\(port)", "--nodes", "20", "--rate", "50", "--messages-per-node", "19",
            "--ramp-up", "1s", "--verify", database.url,
        ])
        XCTAssertEqual(status, 0, "\(summary)\n\(logs())")
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any])
        XCTAssertEqual(verify["stored"] as? Int, 400)
        XCTAssertEqual(verify["missing"] as? Int, 0)
        XCTAssertEqual(verify["duplicated"] as? Int, 0)

        // 12 rows, under a batch: held until the SIGTERM drain writes them.
        let node = try RawClient(port: port)
        XCTAssertEqual(try node.upgrade(), 101)
        for index in 0..<12 {
            try node.sendText(#"{"msg":"system.interval","ts":"2026-12-01T10:00:00Z","image_test":\#(index)}"#)
        }
        let held = "SELECT count(*) FROM tetcore_logs WHERE logs ? 'image_test'"
        XCTAssertEqual(try database.scalar(held), "0", "held in the open batch")
        XCTAssertEqual(try Podman.run(["kill", "--signal", "TERM", name]).status, 0)
        XCTAssertEqual(try node.readCloseCode(), 1001, "SIGTERM reached the server, which closes nodes with 1001")
        try node.send(RawClient.frame(opcode: 0x8, [0x03, 0xE9]))
        let exit = try Podman.run(["wait", name])
        XCTAssertEqual(exit.output.trimmingCharacters(in: .whitespacesAndNewlines), "0", logs())
        XCTAssertEqual(try database.scalar(held), "12", "the drain wrote the held rows")
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM tetcore_logs"), "412")
        XCTAssertTrue(logs().contains("shutting down"), logs())
        print("container image: test done after \(secondsSince(started))")
    }

    /// What the image says about itself agrees with the Containerfile's
    /// promises and with deployment.template.yml.
    private func checkTheImagesConfiguration() throws {
        XCTAssertEqual(try Podman.inspect(image, "{{.Config.User}}", image: true), "10001:10001")
        XCTAssertEqual(try Podman.inspect(image, "{{json .Config.Entrypoint}}", image: true), #"["/usr/local/bin/tetcore-analytics"]"#)
        XCTAssertEqual(try Podman.inspect(image, "{{json .Config.Cmd}}", image: true), #"["serve"]"#)
        XCTAssertEqual(try Podman.inspect(image, "{{.Config.WorkingDir}}", image: true), "/app")
        XCTAssertTrue(try Podman.inspect(image, "{{json .Config.Healthcheck}}", image: true).contains("/healthz"))
        let template = try String(contentsOf: ServerProcess.repositoryRoot.appendingPathComponent("deployment.template.yml"), encoding: .utf8)
        XCTAssertTrue(template.contains("runAsUser: 10001") && template.contains("runAsGroup: 10001"), "the template runs as the image's user")
        XCTAssertTrue(template.contains(#"ASSETS_PATH: "./static""#) && template.contains(#"MIGRATIONS_PATH: "./Migrations""#))

        // Inside: the assets and migrations where the template's relative
        // paths find them, the chart library the server serves at
        // /vendor/chart.js, every library the binary loads, no root.
        let inside = try Podman.run(["run", "--rm", "--network", "none", "--no-healthcheck", "--entrypoint", "/bin/bash", image, "-c",
                                     "id -u; ls /app/static/index.html /app/Migrations/0001_initial_schema.sql /usr/share/javascript/chart.js/chart.min.js; "
                                     + "ldd /usr/local/bin/tetcore-analytics | grep -c 'not found'; /usr/local/bin/tetcore-analytics --version"])
        let lines = inside.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "10001", inside.output)
        XCTAssertTrue(lines.contains("/app/static/index.html") && lines.contains("/app/Migrations/0001_initial_schema.sql"), inside.output)
        XCTAssertTrue(lines.contains("/usr/share/javascript/chart.js/chart.min.js"), "libjs-chart.js in the image: \(inside.output)")
        XCTAssertTrue(lines.contains("0"), "ldd finds every library: \(inside.output)")
        XCTAssertEqual(lines.last, try ChildProcess.run(ServerProcess.executable, ["--version"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
