import Foundation
import Logging
import PostgresClient

/// Applies Migrations/NNNN_name.sql in order, each in one transaction
/// together with its row in schema_migrations. A session advisory lock
/// makes instances that start at once take turns, so each migration is
/// applied exactly once.
package struct Migrator {
    package struct Migration {
        /// The file name without `.sql`, e.g. `0001_initial_schema`.
        package let version: String
        let sql: String
    }

    /// Arbitrary, shared by every instance (ExpiryPurger uses another).
    static let lockKey = 0x7e7c_0001
    package let migrations: [Migration]
    let logger: Logger

    /// Reads the directory (at start-up, before the loop serves anything).
    /// Throws if it cannot be read, holds no migration, or holds a `.sql`
    /// file not named NNNN_lowercase_name.sql, or two with one number.
    package init(directory: String, logger: Logger) throws {
        self.logger = logger
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".sql") }.sorted()
        var numbers = Set<Substring>()
        migrations = try names.map { name in
            let version = String(name.dropLast(4))
            // Versions are written into SQL below: only this shape is allowed.
            guard version.range(of: "^[0-9]{4}_[a-z0-9_]+$", options: .regularExpression) != nil else {
                throw MigrationError("migration file \(name) is not named NNNN_lowercase_name.sql")
            }
            guard numbers.insert(version.prefix(4)).inserted else {
                throw MigrationError("two migration files are numbered \(version.prefix(4))")
            }
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            return Migration(version: version, sql: try String(contentsOfFile: path, encoding: .utf8))
        }
        if migrations.isEmpty { throw MigrationError("no migrations (NNNN_name.sql) in \(directory)") }
    }

    /// Runs on a ready connection without pipeline mode; returns the
    /// versions applied now (empty when the database was up to date). On a
    /// failure the failing migration has left nothing behind; those before
    /// it stay applied.
    package func run(on connection: PGConnection, _ completion: @escaping (Result<[String], PGError>) -> Void) {
        // One simple query: wait for the lock, then read what is applied,
        // which now includes everything a previous holder committed.
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
                // The lock, if taken, would go with the session; let it go now.
                connection.simpleQuery("SELECT pg_advisory_unlock_all()") { _ in completion(.failure(error)) }
            case .success(let rows):
                let applied = Set((0..<rows.count).compactMap { rows.string($0, 0) })
                self.warnAboutUnknown(applied)
                let todo = self.migrations.filter { !applied.contains($0.version) }
                self.apply(todo[...], on: connection, done: []) { outcome in
                    connection.simpleQuery("SELECT pg_advisory_unlock(\(Migrator.lockKey))") { _ in completion(outcome) }
                }
            }
        }
    }

    private func apply(_ todo: ArraySlice<Migration>, on connection: PGConnection, done: [String],
                       _ completion: @escaping (Result<[String], PGError>) -> Void) {
        guard let migration = todo.first else { return completion(.success(done)) }
        // The newline before ";" ends a trailing "--" comment of the file.
        let script = """
            BEGIN;
            \(migration.sql)
            ;
            INSERT INTO schema_migrations (version) VALUES ('\(migration.version)');
            COMMIT;
            """
        connection.simpleQuery(script) { result in
            switch result {
            case .success:
                self.logger.info("applied migration", metadata: ["version": "\(migration.version)"])
                self.apply(todo.dropFirst(), on: connection, done: done + [migration.version], completion)
            case .failure(let error):
                self.logger.error("migration failed", metadata: ["version": "\(migration.version)", "error": "\(error)"])
                // The error left the transaction open and aborted.
                connection.simpleQuery("ROLLBACK") { _ in completion(.failure(error)) }
            }
        }
    }

    /// A database migrated by a newer build: this one may not know its schema.
    private func warnAboutUnknown(_ applied: Set<String>) {
        let known = Set(migrations.map(\.version))
        let unknown = applied.subtracting(known).sorted()
        if !unknown.isEmpty {
            logger.warning("the database has migrations this build does not know",
                           metadata: ["versions": "\(unknown.joined(separator: ","))"])
        }
    }
}

package struct MigrationError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
