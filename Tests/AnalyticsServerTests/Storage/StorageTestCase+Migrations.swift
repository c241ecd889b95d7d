@testable import AnalyticsServer
import Foundation
@testable import PostgresClient
@testable import TestSupport
import XCTest

extension StorageTestCase {
    /// The project's Migrations/ folder.
    static let repositoryMigrations = ServerProcess.repositoryRoot.appendingPathComponent("Migrations").path

    /// Applies the migrations of `directory` to the test database, on the loop.
    func migrate(_ directory: String = StorageTestCase.repositoryMigrations) throws {
        let migrator = try Migrator(directory: directory, logger: logger)
        var outcome: Result<[String], PGError>?
        migrator.run(on: connect()) { outcome = $0 }
        LoopRunner.run(loop) { outcome != nil }
        _ = try XCTUnwrap(outcome).get()
    }
}
