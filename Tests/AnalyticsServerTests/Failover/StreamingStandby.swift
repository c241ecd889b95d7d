import Foundation
@testable import TestSupport

/// A hot standby of a DisposableCluster: pg_basebackup of the running
/// cluster (`-R` writes the standby's primary_conninfo and standby.signal),
/// started on a port of its own, streaming from it. Its data directory is
/// inside the cluster's, which `destroy()` of the cluster removes: destroy
/// the standby first.
final class StreamingStandby {
    let port = ServerProcess.freePort()
    let dataDirectory: String
    private let primary: DisposableCluster

    init(of primary: DisposableCluster) throws {
        self.primary = primary
        dataDirectory = primary.root + "/standby"
        try primary.program("pg_basebackup", [
            "-D", dataDirectory, "-R", "-X", "stream", "-c", "fast", "-d", "host=127.0.0.1 port=\(primary.port) user=postgres",
        ])
        let options = "-p \(port) -c listen_addresses=127.0.0.1 -c unix_socket_directories=\(primary.root) -c fsync=off"
        try primary.program("pg_ctl", ["-D", dataDirectory, "-o", options, "-l", primary.root + "/standby.log", "-w", "-t", "30", "start"])
    }

    var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    /// Replay stops (WAL is still received): the standby falls behind.
    func pauseReplay() throws {
        try TestDatabase.exec(url, "SELECT pg_wal_replay_pause()")
    }

    func resumeReplay() throws {
        try TestDatabase.exec(url, "SELECT pg_wal_replay_resume()")
    }

    func destroy() {
        _ = try? primary.program("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
    }
}
