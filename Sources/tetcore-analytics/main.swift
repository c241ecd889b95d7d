// The tetcore-analytics executable: command line, settings, logging; the
// server itself lives in the AnalyticsServer module.
import AnalyticsServer
import ArgumentParser
import Foundation
import Logging

struct TetcoreAnalytics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tetcore-analytics",
        abstract: "Telemetry analytics server for Tetcore (Substrate-family) nodes.",
        discussion: """
            Nodes send telemetry with --telemetry-url 'ws://HOST:PORT 5' (expires after LOG_EXPIRY_H) \
            or 'ws://HOST:PORT/audit 5' (kept forever). Every setting comes from the environment or \
            from a .env file in the working directory (the environment wins):

            \(Settings.helpText())
            """,
        version: AnalyticsService.version,
        subcommands: [Serve.self, Migrate.self],
        defaultSubcommand: Serve.self)
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server (the default): ingestion, JSON API, /metrics and dashboards.")

    func run() throws {
        let settings = try loadSettings()
        let service = AnalyticsService(settings: settings, logger: makeLogger(settings))
        throw ExitCode(service.serve())
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the SQL migrations in MIGRATIONS_PATH to the database and exit.",
        discussion: """
            A database of the original (Rust) server is adopted first, in one transaction: its rows kept, \
            counts printed before and after, anything it does not recognise refused by name.
            """)

    func run() throws {
        let settings = try loadSettings()
        let service = AnalyticsService(settings: settings, logger: makeLogger(settings))
        throw ExitCode(service.migrateAndExit())
    }
}

/// A bad setting ends the process with status 2 and one line naming it.
private func loadSettings() throws -> Settings {
    do {
        return try Settings.load()
    } catch {
        FileHandle.standardError.write(Data("tetcore-analytics: \(error)\n".utf8))
        throw ExitCode(2)
    }
}

private func makeLogger(_ settings: Settings) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = settings.logLevel
        return handler
    }
    return Logger(label: "tetcore-analytics")
}

TetcoreAnalytics.main()
