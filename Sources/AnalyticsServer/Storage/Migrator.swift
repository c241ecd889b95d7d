import Foundation
import Logging

/// Applies Migrations/NNNN_name.sql in order, each in one transaction,
/// recording each in schema_migrations. A session advisory lock makes
/// instances that start together take turns, so each migration is applied
/// exactly once.
public struct Migrator {
    public struct Migration {
        public let version: String
        let sql: String
    }

    private static let lockKey = 0x7e7c_0001 // arbitrary, shared by every instance
    public let migrations: [Migration]
    private let logger: Logger

    /// Reads the directory at start-up (before the loop serves anything).
    public init(directory: String, logger: Logger) throws {
        self.logger = logger
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".sql") }.sorted()
        migrations = try names.map { name in
            let version = String(name.dropLast(4))
            // Versions are written into SQL below: only this shape is allowed.
            guard version.range(of: "^[0-9]{4}_[a-z0-9_]+$", options: .regularExpression) != nil else {
                throw MigrationError("migration file \(name) is not named NNNN_lowercase_name.sql")
            }
            let sql = try String(contentsOfFile: (directory as NSString).appendingPathComponent(name), encoding: .utf8)
            return Migration(version: version, sql: sql)
        }
        if migrations.isEmpty { throw MigrationError("no migrations found in \(directory)") }
    }

    /// Runs on a ready, non-pipelined connection; returns the versions
    /// applied now (empty when the database was up to date).
    public func run(on connection: PGConnection, _ completion: @escaping (Result<[String], PGError>) -> Void) {
        let setup = """
            SELECT pg_advisory_lock(\(Migrator.lockKey));
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version text PRIMARY KEY,
                applied_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'));
            SELECT version FROM schema_migrations
            """
        connection.simpleQuery(setup) { result in
            switch result {
            case .failure(let error):
                // The lock, if taken, ends with the session; release it anyway.
                connection.simpleQuery("SELECT pg_advisory_unlock_all()") { _ in completion(.failure(error)) }
            case .success(let rows):
                let applied = Set((0..<rows.count).compactMap { rows.string($0, 0) })
                let todo = self.migrations.filter { !applied.contains($0.version) }
                self.apply(todo[...], on: connection, done: []) { outcome in
                    connection.simpleQuery("SELECT pg_advisory_unlock(\(Migrator.lockKey))") { _ in completion(outcome) }
                }
            }
        }
    }

    private func apply(_ todo: ArraySlice<Migration>, on connection: PGConnection, done: [String],
                       _ completion: @escaping (Result<[String], PGError>) -> Void) {
        guard let migration = todo.first else {
            completion(.success(done))
            return
        }
        let script = "BEGIN;\n\(migration.sql)\n;INSERT INTO schema_migrations (version) VALUES ('\(migration.version)');\nCOMMIT;"
        connection.simpleQuery(script) { result in
            switch result {
            case .success:
                self.logger.info("applied migration", metadata: ["version": "\(migration.version)"])
                self.apply(todo.dropFirst(), on: connection, done: done + [migration.version], completion)
            case .failure(let error):
                self.logger.error("migration failed", metadata: ["version": "\(migration.version)", "error": "\(error)"])
                connection.simpleQuery("ROLLBACK") { _ in completion(.failure(error)) }
            }
        }
    }
}

public struct MigrationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
