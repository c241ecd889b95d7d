import Foundation
@testable import TestSupport
import XCTest

/// scripts/install into a temporary PREFIX: every file where its header
/// says, a systemd unit that `systemd-analyze verify` accepts and that is
/// sandboxed as promised, a man page groff renders without a warning,
/// completions bash loads, and an installed binary that migrates and
/// serves from the installed assets and migrations.
final class InstallTests: XCTestCase {
    private var prefix: URL?
    private var database: TestDatabase?

    override func setUpWithError() throws {
        // A release build with the Swift runtime linked in, which a
        // sanitizer build of the suite does not change.
        if let sanitizer = SanitizedBuild.name {
            throw XCTSkip("the install test runs in the plain suite only (this is the \(sanitizer) build)")
        }
    }

    override func tearDown() {
        if let prefix { try? FileManager.default.removeItem(at: prefix) }
        database?.drop()
    }

    func testInstallIntoAPrefixGivesAWorkingServerUnitManPageAndCompletions() throws {
        let started = Date()
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("tetcore-prefix-\(getpid())")
        self.prefix = prefix
        var environment = ProcessInfo.processInfo.environment
        environment["PREFIX"] = prefix.path
        environment["SCRATCH_PATH"] = ReleaseBuild.scratchPath
        environment["LSAN_OPTIONS"] = nil
        let install = try ChildProcess.run("/bin/bash", ["scripts/install"], environment: environment, directory: ServerProcess.repositoryRoot)
        XCTAssertEqual(install.status, 0, install.output)
        print("install: done after \(secondsSince(started))")
        let root = prefix.path
        let files = [
            "bin/tetcore-analytics", "share/tetcore-analytics/static/index.html", "share/tetcore-analytics/static/openapi.json",
            "share/tetcore-analytics/Migrations/0001_initial_schema.sql", "share/tetcore-analytics/tetcore-analytics.env.example",
            "lib/systemd/system/tetcore-analytics.service", "lib/sysusers.d/tetcore-analytics.conf",
            "share/man/man1/tetcore-analytics.1", "share/bash-completion/completions/tetcore-analytics",
            "share/zsh/site-functions/_tetcore-analytics", "share/fish/vendor_completions.d/tetcore-analytics.fish",
        ]
        for file in files {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(root)/\(file)"), file)
        }
        let migrations = try FileManager.default.contentsOfDirectory(atPath: ServerProcess.repositoryRoot.appendingPathComponent("Migrations").path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(root)/share/tetcore-analytics/Migrations").sorted(), migrations.sorted())

        // The unit: the prefix filled in, verified, sandboxed as promised.
        let unitPath = "\(root)/lib/systemd/system/tetcore-analytics.service"
        let unit = try String(contentsOfFile: unitPath, encoding: .utf8)
        XCTAssertFalse(unit.contains("@PREFIX@"))
        XCTAssertTrue(unit.contains("ExecStart=\(root)/bin/tetcore-analytics serve"), unit)
        for line in ["User=tetcore-analytics", "ProtectSystem=strict", "StateDirectory=tetcore-analytics", "Restart=on-failure",
                     "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "PrivateTmp=yes", "ProtectHome=yes"] {
            XCTAssertTrue(unit.contains(line), line)
        }
        let limit = try XCTUnwrap(unit.split(separator: "\n").first { $0.hasPrefix("LimitNOFILE=") }.flatMap { Int($0.dropFirst(12)) })
        XCTAssertGreaterThan(limit, 100_000, "room for MAX_CONNECTIONS' default")
        XCTAssertFalse(unit.contains("ReadWritePaths"), "the state directory is the only writable place")
        for setting in ["ASSETS_PATH", "MIGRATIONS_PATH"] {
            let value = try XCTUnwrap(unit.split(separator: "\n").first { $0.hasPrefix("Environment=\(setting)=") }
                .map { String($0.dropFirst("Environment=\(setting)=".count)) })
            XCTAssertTrue(FileManager.default.fileExists(atPath: value), "\(setting)=\(value)")
        }
        let systemdAnalyze = "/usr/bin/systemd-analyze"
        if FileManager.default.isExecutableFile(atPath: systemdAnalyze) {
            // MANPATH: verify checks that the Documentation= page exists.
            var analyze = environment
            analyze["MANPATH"] = "\(root)/share/man:"
            let verify = try ChildProcess.run(systemdAnalyze, ["verify", unitPath], environment: analyze)
            XCTAssertEqual(verify.status, 0, verify.output)
            XCTAssertEqual(verify.output.trimmingCharacters(in: .whitespacesAndNewlines), "", "no warning")
            let security = try ChildProcess.run(systemdAnalyze, ["security", "--offline=true", "--no-pager", unitPath], environment: analyze)
            let exposure = security.output.range(of: #"Overall exposure level for tetcore-analytics.service: ([0-9.]+)"#, options: .regularExpression)
                .flatMap { Double(security.output[$0].split(separator: " ").last ?? "") }
            let score = try XCTUnwrap(exposure, security.output)
            XCTAssertLessThan(score, 2.5, "systemd's own exposure score:\n\(security.output)")
            print("install: systemd-analyze security exposure \(score)")
            let sysusers = try ChildProcess.run("/usr/bin/systemd-sysusers", ["--dry-run", "\(root)/lib/sysusers.d/tetcore-analytics.conf"])
            XCTAssertEqual(sysusers.status, 0, sysusers.output)
        } else if ProcessInfo.processInfo.environment["CI"] == "true" {
            XCTFail("systemd-analyze is missing (scripts/test installs Debian's systemd)")
        }

        // The man page, rendered: every command and setting, no warning.
        let page = "\(root)/share/man/man1/tetcore-analytics.1"
        let lint = try ChildProcess.run("/usr/bin/groff", ["-man", "-Tutf8", "-ww", "-z", page])
        XCTAssertEqual(lint.status, 0, lint.output)
        XCTAssertEqual(lint.output, "", "groff warnings")
        let rendered = try ChildProcess.run("/usr/bin/groff", ["-man", "-Tascii", "-P-cbou", page]).output
        for text in ["SYNOPSIS", "tetcore-analytics serve", "tetcore-analytics migrate", "ENVIRONMENT", "EXIT STATUS"] {
            XCTAssertTrue(rendered.contains(text), "\(text) in\n\(rendered)")
        }
        for setting in ["DATABASE_URL", "LOG_EXPIRY_H", "MIGRATIONS_PATH", "SHUTDOWN_TIMEOUT_S"] {
            XCTAssertTrue(rendered.contains("\(setting) (default:"), setting)
        }

        // Completions: bash loads its script and completes the commands.
        let bash = try ChildProcess.run("/bin/bash", ["-c", """
            source "$1" && complete -p tetcore-analytics && COMP_WORDS=(tetcore-analytics mi) COMP_CWORD=1 \
            COMP_LINE='tetcore-analytics mi' COMP_POINT=20 && _tetcore-analytics && printf '%s\\n' "${COMPREPLY[@]}"
            """, "bash", "\(root)/share/bash-completion/completions/tetcore-analytics"])
        XCTAssertEqual(bash.status, 0, bash.output)
        XCTAssertTrue(bash.output.contains("migrate"), bash.output)
        for shell in ["share/zsh/site-functions/_tetcore-analytics", "share/fish/vendor_completions.d/tetcore-analytics.fish"] {
            let text = try String(contentsOfFile: "\(root)/\(shell)", encoding: .utf8)
            XCTAssertTrue(text.contains("serve") && text.contains("migrate"), shell)
        }

        // The installed binary, with the unit's paths, migrates and serves.
        let database = try TestDatabase()
        self.database = database
        let settings = ["DATABASE_URL": database.url, "PATH": "/usr/bin:/bin",
                        "ASSETS_PATH": "\(root)/share/tetcore-analytics/static",
                        "MIGRATIONS_PATH": "\(root)/share/tetcore-analytics/Migrations"]
        let migrate = try ChildProcess.run("\(root)/bin/tetcore-analytics", ["migrate"], environment: settings, directory: URL(fileURLWithPath: "/"))
        XCTAssertEqual(migrate.status, 0, migrate.output)
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM schema_migrations"), String(migrations.filter { $0.hasSuffix(".sql") }.count))
        let port = ServerProcess.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "\(root)/bin/tetcore-analytics")
        server.arguments = ["serve"]
        server.environment = settings.merging(["PORT": String(port), "HOST": "127.0.0.1"]) { $1 }
        server.currentDirectoryURL = URL(fileURLWithPath: "/")
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        eventually(30, "the installed server answers the dashboard") {
            let client = try RawClient(port: port)
            try client.send("GET /dashboard/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let response = try client.readHTTPResponse()
            return response.status == 200 && response.body.contains("<html")
        }
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        XCTAssertEqual(server.terminationStatus, 0)
    }
}
