import Foundation
@testable import TestSupport
import XCTest

/// DATABASE_READ_URL: API queries read from a hot standby (StreamingStandby
/// of a DisposableCluster), writes stay on the primary, and a standby that
/// falls behind READ_REPLICA_MAX_LAG_S is reported degraded while reads go
/// to the primary. The standby is made to fall behind by pausing its replay.
final class ReadReplicaTests: XCTestCase {
    private var cluster: DisposableCluster?
    private var standby: StreamingStandby?
    private var server: ServerProcess?

    override func tearDown() {
        if let server, server.process.isRunning { _ = server.terminate(signal: SIGKILL) }
        server = nil
        standby?.destroy()
        standby = nil
        cluster?.destroy()
        cluster = nil
    }

    private func start(maxLagSeconds: Int) throws -> (ServerProcess, StreamingStandby) {
        let cluster = try DisposableCluster()
        self.cluster = cluster
        let standby = try StreamingStandby(of: cluster)
        self.standby = standby
        let server = try ServerProcess(environment: [
            "DATABASE_URL": cluster.url, "READ_REPLICA_MAX_LAG_S": "\(maxLagSeconds)",
            "DATABASE_READ_URL": "postgres://postgres@127.0.0.1:\(standby.port)/postgres?target_session_attrs=standby",
        ])
        self.server = server
        return (server, standby)
    }

    func testReadsComeFromTheStandbyAndWritesGoToThePrimary() throws {
        let (server, standby) = try start(maxLagSeconds: 3600)
        eventually(30, "the replica measured and in use") { try self.readReplica(server)["status"] as? String == "ok" }
        XCTAssertEqual(try Scrape.of(server)[#"tetcore_database_connections_open{pool="read"}"#], 2)

        try standby.pauseReplay()
        let posted = try request(server, "POST", "/host_systems", body: Self.hostSystem("written while replay is paused"))
        XCTAssertEqual(posted.status, 200, "the write went to the primary: \(posted.body)")
        // The standby has not replayed the insert: the list, read there, lacks it.
        XCTAssertFalse(try request(server, "GET", "/host_systems").body.contains("written while replay is paused"))
        eventually(30, "the lag seen growing") { (try Scrape.of(server)["tetcore_database_read_replication_lag_seconds"] ?? 0) >= 1 }
        XCTAssertEqual(try readReplica(server)["status"] as? String, "ok", "within READ_REPLICA_MAX_LAG_S")

        try standby.resumeReplay()
        eventually(30, "the standby caught up") {
            try self.request(server, "GET", "/host_systems").body.contains("written while replay is paused")
        }
        eventually(30, "the lag back under a second") { (try Scrape.of(server)["tetcore_database_read_replication_lag_seconds"] ?? 9) < 1 }
    }

    func testAStandbyBehindTheLimitIsDegradedAndReadsGoToThePrimary() throws {
        let (server, standby) = try start(maxLagSeconds: 1)
        eventually(30, "the replica measured and in use") { try self.readReplica(server)["status"] as? String == "ok" }

        try standby.pauseReplay()
        XCTAssertEqual(try request(server, "POST", "/host_systems", body: Self.hostSystem("seen on the primary")).status, 200)
        eventually(30, "the replica reported degraded") { try self.readReplica(server)["status"] as? String == "degraded" }
        // Degraded reads do not make the instance unready: ingestion works.
        XCTAssertEqual(try server.get("/readyz").status, 200)
        XCTAssertGreaterThan(try XCTUnwrap(readReplica(server)["lag_seconds"] as? Double), 1)
        XCTAssertTrue(try request(server, "GET", "/host_systems").body.contains("seen on the primary"), "read from the primary")

        try standby.resumeReplay()
        eventually(30, "the replica in use again") { try self.readReplica(server)["status"] as? String == "ok" }
    }

    func testAStoppedStandbyIsDegradedAndReadsGoToThePrimary() throws {
        let (server, standby) = try start(maxLagSeconds: 30)
        eventually(30, "the replica measured and in use") { try self.readReplica(server)["status"] as? String == "ok" }
        standby.destroy()
        eventually(30, "the replica reported degraded") { try self.readReplica(server)["status"] as? String == "degraded" }
        XCTAssertNil(try readReplica(server)["lag_seconds"] as? Double, "unknown: null")
        XCTAssertEqual(try request(server, "GET", "/host_systems").status, 200)
        XCTAssertEqual(try server.get("/readyz").status, 200)
    }

    // MARK: Helpers

    private static func hostSystem(_ description: String) -> String {
        #"{"description":"\#(description)","os":"linux","cpu_qty":2,"cpu_clock":2000,"ram_mb":4096,"disk_info":"ssd"}"#
    }

    private func readReplica(_ server: ServerProcess) throws -> [String: Any] {
        let body = try server.get("/readyz").body
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return try XCTUnwrap(object?["read_replica"] as? [String: Any], body)
    }

    private func request(_ server: ServerProcess, _ method: String, _ target: String,
                         body: String? = nil) throws -> (status: Int, body: String) {
        let client = try RawClient(port: server.port)
        var head = "\(method) \(target) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        try client.send(head + "\r\n" + (body ?? ""))
        return try client.readHTTPResponse()
    }
}
