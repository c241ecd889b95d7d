import Foundation
@testable import TestSupport
import XCTest

/// A graceful shutdown writes the closed sockets' nodes offline, even when
/// an earlier write of the node state is still waiting for the database.
final class NetworkShutdownTests: ServerTestCase {
    override var extraEnvironment: [String: String] { ["DB_SAVE_LATENCY_MS": "10"] }

    private func online(_ peerID: String) throws -> String? {
        try database.scalar("SELECT online FROM network_nodes WHERE peer_id = '\(peerID)'")
    }

    func testSIGTERMWaitsForTheNodeStateWriteInFlightAndThenWritesTheNodeOffline() throws {
        let stopping: ServerProcess = server
        let node = try SyntheticNode(port: stopping.port, peerID: "12D3KooWStop")
        try node.interval(best: 10, finalized: 8)
        eventually(10, "the node's row written online") { try self.online("12D3KooWStop") == "t" }

        // The next write of the node (its new best) waits behind a lock.
        let lock = try database.holdLock(on: "network_nodes")
        defer { lock.release() }
        try node.importBlock(11)
        // A write asks for ROW EXCLUSIVE; reads of the table wait too, for
        // ACCESS SHARE.
        eventually(10, "a write of the node state waiting for the lock") {
            self.lockWaiters(on: "network_nodes", mode: "RowExclusiveLock") == 1
        }

        kill(stopping.process.processIdentifier, SIGTERM)
        XCTAssertEqual(try node.client.readCloseCode(), 1001)
        try node.client.send(RawClient.frame(opcode: 0x8, [0x03, 0xE9]))
        // Every row is written; the earlier node write still waits, and the
        // one that marks the node offline comes after it.
        eventually(30, "the server waiting for the node state's writes") {
            stopping.log.contains("waiting for the node state's last writes")
        }
        XCTAssertTrue(stopping.process.isRunning)
        lock.release()
        stopping.process.waitUntilExit()
        XCTAssertEqual(stopping.process.terminationStatus, 0, stopping.log)
        XCTAssertEqual(try online("12D3KooWStop"), "f", stopping.log)
        XCTAssertEqual(try database.scalar("SELECT best_height FROM network_nodes WHERE peer_id = '12D3KooWStop'"), "11")
    }
}
