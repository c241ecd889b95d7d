import Foundation
import Logging
import PostgresClient

/// Takes over a database of the original server (diesel's
/// `__diesel_schema_migrations` and no `schema_migrations`) before the
/// Migrator runs.
///
/// `tetcore-analytics migrate` adopts it: the schema is compared with the
/// original's (OriginalSchema); anything not recognised is refused by name
/// and nothing changes. Otherwise one transaction converts the tables in
/// place (OriginalSchema.conversionSQL), records 0001 and 0002 as applied,
/// runs every later migration (0003 moves the telemetry into the
/// partitioned table), compares each table's row count and sum of ids with
/// what it was, and commits only if they agree. An interruption at any
/// point leaves the original database as it was, so the command can simply
/// be run again. `serve` refuses such a database and says to run `migrate`.
final class OriginalSchemaAdoption {
    private let migrator: Migrator
    private let connection: PGConnection
    private let logger: Logger
    private let write: (String) -> Void

    init(migrator: Migrator, connection: PGConnection, logger: Logger, write: @escaping (String) -> Void) {
        self.migrator = migrator
        self.connection = connection
        self.logger = logger
        self.write = write
    }

    /// Succeeds with the versions recorded by the adoption, or with none
    /// when the database is not the original's.
    func run(convert: Bool, _ completion: @escaping (Result<[String], PGError>) -> Void) {
        let probe = """
            SELECT pg_advisory_lock(\(Migrator.lockKey));
            SELECT to_regclass('schema_migrations') IS NOT NULL, to_regclass('__diesel_schema_migrations') IS NOT NULL
            """
        connection.simpleQuery(probe) { result in
            switch result {
            case .failure(let error):
                self.connection.simpleQuery("SELECT pg_advisory_unlock_all()") { _ in completion(.failure(error)) }
            case .success(let rows):
                let ours = rows.string(0, 0) == "t", diesel = rows.string(0, 1) == "t"
                guard diesel && !ours else { return self.finish(.success([]), completion) }
                guard convert else {
                    return self.finish(.failure(Self.refusal(
                        "this database was made by the original server (it has diesel's __diesel_schema_migrations "
                        + "and no schema_migrations); stop the original server, back the database up and run "
                        + "`tetcore-analytics migrate` to adopt it (docs/migrating-from-original.md)")), completion)
                }
                self.recognise(completion)
            }
        }
    }

    // MARK: Steps

    private func recognise(_ completion: @escaping (Result<[String], PGError>) -> Void) {
        connection.simpleQuery(OriginalSchema.descriptorsSQL) { result in
            switch result {
            case .failure(let error):
                self.finish(.failure(error), completion)
            case .success(let rows):
                let found = (0..<rows.count).compactMap { rows.string($0, 0) }
                if let problem = self.problems(found) {
                    return self.finish(.failure(Self.refusal(problem)), completion)
                }
                self.write("Adopting a database of the original server (diesel migrations up to "
                    + "\(OriginalSchema.dieselVersions.last ?? "")).\n")
                self.countBefore(completion)
            }
        }
    }

    /// Why the schema is not the original's, or nil when it is.
    func problems(_ found: [String]) -> String? {
        let versions = Set(found.filter { $0.hasPrefix("diesel ") }.map { String($0.dropFirst(7)) })
        let objects = Set(found.filter { !$0.hasPrefix("diesel ") })
        var lines: [String] = []
        let firstMigrations = migrator.migrations.prefix(OriginalSchema.replacedMigrations.count).map(\.version)
        if firstMigrations != OriginalSchema.replacedMigrations {
            lines.append("this build's migrations do not begin with \(OriginalSchema.replacedMigrations.joined(separator: ", "))")
        }
        let known = Set(OriginalSchema.dieselVersions)
        let missingVersions = OriginalSchema.dieselVersions.filter { !versions.contains($0) }
        if !missingVersions.isEmpty {
            lines.append("diesel has not applied the original's migrations \(missingVersions.joined(separator: ", ")) "
                + "(run the original's `diesel migration run` first)")
        }
        let unknownVersions = versions.subtracting(known).sorted()
        if !unknownVersions.isEmpty {
            lines.append("diesel recorded migrations the original does not have: \(unknownVersions.joined(separator: ", "))")
        }
        for object in objects.subtracting(OriginalSchema.descriptors).sorted() {
            lines.append("not made by the original server: \(object)")
        }
        for object in OriginalSchema.descriptors.subtracting(objects).sorted() {
            lines.append("missing from the original's schema: \(object)")
        }
        guard !lines.isEmpty else { return nil }
        return "refusing to adopt this database; nothing was changed:\n  " + lines.joined(separator: "\n  ")
            + "\nDrop or move (to another schema) what the original did not make, or finish the original's "
            + "migrations, then run `tetcore-analytics migrate` again."
    }

    private typealias Counts = [String: (rows: String, idSum: String)]

    private func countBefore(_ completion: @escaping (Result<[String], PGError>) -> Void) {
        connection.simpleQuery("BEGIN; \(OriginalSchema.lockSQL); \(OriginalSchema.countsSQL)") { result in
            switch result {
            case .failure(let error):
                self.rollBack(error, completion)
            case .success(let rows):
                self.convert(before: Self.counts(rows), completion)
            }
        }
    }

    private func convert(before: Counts, _ completion: @escaping (Result<[String], PGError>) -> Void) {
        let later = migrator.migrations.dropFirst(OriginalSchema.replacedMigrations.count)
        var script = """
            \(OriginalSchema.conversionSQL)
            CREATE TABLE schema_migrations (
                version text PRIMARY KEY,
                applied_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'));
            INSERT INTO schema_migrations (version) VALUES \
            \(OriginalSchema.replacedMigrations.map { "('\($0)')" }.joined(separator: ", "));

            """
        for migration in later {
            // Each migration expects the temporary tables of a fresh
            // transaction (0003 and 0004 both make old_log_indexes).
            script += "DISCARD TEMP;\n\(migration.sql)\n;\n"
                + "INSERT INTO schema_migrations (version) VALUES ('\(migration.version)');\n"
        }
        script += OriginalSchema.countsSQL
        connection.simpleQuery(script) { result in
            switch result {
            case .failure(let error):
                self.rollBack(error, completion)
            case .success(let rows):
                let after = Self.counts(rows)
                let changed = OriginalSchema.dataTables.filter { before[$0]?.rows != after[$0]?.rows || before[$0]?.idSum != after[$0]?.idSum }
                guard changed.isEmpty else {
                    return self.rollBack(Self.refusal("the rows of \(changed.joined(separator: ", ")) differ after the "
                        + "conversion; it was rolled back and nothing was changed"), completion)
                }
                let versions = OriginalSchema.replacedMigrations + later.map(\.version)
                self.summarise(before: before, after: after, versions: versions, completion)
            }
        }
    }

    private func summarise(before: Counts, after: Counts, versions: [String],
                           _ completion: @escaping (Result<[String], PGError>) -> Void) {
        let summary = """
            SELECT count(*), count(ts_start), count(ts_end), count(description), count(chain_spec),
                   count(benchmark_spec), count(host_system_id), count(peer_id),
                   (SELECT count(*) FROM pg_inherits WHERE inhparent = 'tetcore_logs'::regclass),
                   (SELECT count(*) FROM tetcore_logs WHERE audit)
            FROM benchmarks WHERE setup IS NOT NULL
            """
        connection.simpleQuery(summary) { result in
            switch result {
            case .failure(let error):
                self.rollBack(error, completion)
            case .success(let rows):
                self.connection.simpleQuery("COMMIT") { result in
                    if case .failure(let error) = result { return self.finish(.failure(error), completion) }
                    self.report(before: before, after: after, summary: rows, versions: versions)
                    self.finish(.success(versions), completion)
                }
            }
        }
    }

    private func report(before: Counts, after: Counts, summary: PGRows, versions: [String]) {
        let width = (OriginalSchema.dataTables.map(\.count).max() ?? 0) + 2
        func padded(_ text: String, _ count: Int) -> String { String(repeating: " ", count: max(0, count - text.count)) + text }
        var text = "table".padding(toLength: width, withPad: " ", startingAt: 0) + padded("rows before", 14) + padded("rows after", 14) + "\n"
        for table in OriginalSchema.dataTables {
            text += table.padding(toLength: width, withPad: " ", startingAt: 0)
                + padded(before[table]?.rows ?? "?", 14) + padded(after[table]?.rows ?? "?", 14) + "\n"
        }
        let value = { (column: Int) in summary.string(0, column) ?? "0" }
        text += "tetcore_logs: \(value(8)) partitions, \(value(9)) rows kept forever (sent to /audit)\n"
        let fields = ["ts_start", "ts_end", "description", "chain_spec", "benchmark_spec", "host_system_id", "peer_id"]
        let mapped = fields.enumerated().map { "\($0.element) \(value($0.offset + 1))" }.joined(separator: ", ")
        text += "benchmarks: \(value(0)) with a setup, kept as it was; fields found in it: \(mapped)\n"
        text += "dropped: diesel's __diesel_schema_migrations, diesel_manage_updated_at(regclass), diesel_set_updated_at(); "
            + "the original's indexes \(OriginalSchema.droppedIndexes.joined(separator: ", "))\n"
        text += "recorded as applied: \(versions.joined(separator: ", "))\n"
        write(text)
        logger.info("adopted a database of the original server", metadata: ["versions": "\(versions.joined(separator: ","))"])
    }

    // MARK: Helpers

    private static func counts(_ rows: PGRows) -> Counts {
        var counts: Counts = [:]
        for row in 0..<rows.count {
            guard let table = rows.string(row, 0) else { continue }
            counts[table] = (rows.string(row, 1) ?? "", rows.string(row, 2) ?? "")
        }
        return counts
    }

    /// A refusal is final (the service exits), unlike a lost connection.
    private static func refusal(_ message: String) -> PGError {
        PGError(kind: .query, sqlState: nil, message: message)
    }

    private func rollBack(_ error: PGError, _ completion: @escaping (Result<[String], PGError>) -> Void) {
        connection.simpleQuery("ROLLBACK") { _ in self.finish(.failure(error), completion) }
    }

    private func finish(_ outcome: Result<[String], PGError>, _ completion: @escaping (Result<[String], PGError>) -> Void) {
        connection.simpleQuery("SELECT pg_advisory_unlock(\(Migrator.lockKey))") { _ in completion(outcome) }
    }
}

extension Migrator {
    /// `run(on:)`, after adopting a database of the original server when
    /// `adoptingOriginalSchema` (the `migrate` command writes its report to
    /// standard output); without it such a database is refused with a
    /// message that says to run `migrate`.
    package func run(on connection: PGConnection, adoptingOriginalSchema: Bool,
                    _ completion: @escaping (Result<[String], PGError>) -> Void) {
        let adoption = OriginalSchemaAdoption(migrator: self, connection: connection, logger: logger) { text in
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        adoption.run(convert: adoptingOriginalSchema) { outcome in
            switch outcome {
            case .failure(let error):
                completion(.failure(error))
            case .success(let adopted):
                self.run(on: connection) { result in completion(result.map { adopted + $0 }) }
            }
        }
    }
}
