import Logging
import PostgresClient
import Reactor

/// How far behind the primary the read replica (DATABASE_READ_URL) is, in
/// time, measured every second on loop 0 by comparing WAL positions:
///
/// - each second the primary's `pg_current_wal_lsn()` is noted with the
///   time it was read;
/// - each second the replica's `pg_last_wal_replay_lsn()` is read (its
///   `pg_current_wal_lsn()` if the URL led to a primary);
/// - the lag is how long ago the primary first had WAL the replica has not
///   replayed yet: now minus the time of the oldest noted position beyond
///   the replica's. Zero when the replica has replayed every noted position.
///
/// Unlike `now() - pg_last_xact_replay_timestamp()` this does not grow
/// while nothing is written, and it does not need the primary at the moment
/// of measuring. It is exact to the sampling interval (1 s). With several
/// standbys behind one URL it is the lag of whichever one answered.
///
/// The lag is unknown (nil) while no replica connection is open, after a
/// failed measurement, or while one has gone unanswered for longer than the
/// allowed lag: reads then go to the primary.
final class ReplicaLagMonitor {
    static let lagFamily = MetricFamily(.gauge, "tetcore_database_read_replication_lag_seconds",
                                        help: "How far the read replica (DATABASE_READ_URL) is behind the primary; absent while unknown.")
    static let intervalMs: UInt64 = 1000
    /// Noted primary positions kept at most (an hour of them): a replica
    /// further behind is reported an hour behind.
    static let sampleLimit = 3600

    private let loop: EventLoop
    private let primary: StatementQueue
    private let replica: StatementQueue
    private let maxLagMs: UInt64
    private let logger: Logger
    private let timer: LoopTimer
    /// The primary's WAL positions, oldest first, each with when it was read.
    private var samples: [(atMs: UInt64, lsn: UInt64)] = []
    private var primaryInFlight = false
    private var replicaSentAtMs: UInt64?
    /// Called on every measurement: the lag in milliseconds, nil if unknown.
    var onMeasured: ((UInt64?) -> Void)?
    private(set) var lagMs: UInt64?

    init(loop: EventLoop, primary: StatementQueue, replica: StatementQueue, maxLagMs: UInt64, logger: Logger) {
        self.loop = loop
        self.primary = primary
        self.replica = replica
        self.maxLagMs = maxLagMs
        self.logger = logger
        timer = LoopTimer(loop: loop)
    }

    func start() {
        timer.start(after: 0, repeat: ReplicaLagMonitor.intervalMs) { [weak self] in self?.tick() }
    }

    func stop() {
        timer.stop()
    }

    var isReplicaUsable: Bool {
        guard let lagMs else { return false }
        return lagMs <= maxLagMs
    }

    private func tick() {
        if !primaryInFlight {
            primaryInFlight = true
            let sentAt = loop.nowMilliseconds
            primary.submit(StatementQueue.Job(sql: "SELECT pg_current_wal_lsn()::text", parameters: []) { [weak self] result in
                guard let self else { return }
                self.primaryInFlight = false
                if case .success(let rows) = result, let lsn = rows.string(0, 0).flatMap(ReplicaLagMonitor.parseLSN) {
                    self.note(lsn, at: sentAt)
                }
            }, priority: .urgent)
        }
        if let sentAt = replicaSentAtMs {
            // A replica that stopped answering is not one to read from.
            if loop.nowMilliseconds &- sentAt > maxLagMs { publish(nil) }
            return
        }
        guard replica.pool.readyCount > 0 else { return publish(nil) }
        replicaSentAtMs = loop.nowMilliseconds
        let sql = "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text"
        replica.submit(StatementQueue.Job(sql: sql, parameters: []) { [weak self] result in
            guard let self else { return }
            self.replicaSentAtMs = nil
            switch result {
            case .success(let rows):
                guard let replayed = rows.string(0, 0).flatMap(ReplicaLagMonitor.parseLSN) else { return self.publish(nil) }
                self.publish(self.lag(replayed: replayed))
            case .failure(let error):
                self.logger.warning("cannot measure the read replica's lag", metadata: ["error": "\(error)"])
                self.publish(nil)
            }
        }, priority: .urgent)
    }

    private func note(_ lsn: UInt64, at atMs: UInt64) {
        // Positions only grow on one primary; after a failover the new
        // primary's may be lower: start over from it.
        if let last = samples.last, lsn < last.lsn { samples.removeAll() }
        if samples.last?.lsn == lsn { return }
        samples.append((atMs, lsn))
        if samples.count > ReplicaLagMonitor.sampleLimit { samples.removeFirst(samples.count - ReplicaLagMonitor.sampleLimit) }
    }

    /// Now minus when the primary first had WAL beyond `replayed`; drops
    /// the positions the replica has replayed.
    func lag(replayed: UInt64) -> UInt64 {
        samples.removeAll { $0.lsn <= replayed }
        guard let oldestAhead = samples.first else { return 0 }
        return loop.nowMilliseconds &- oldestAhead.atMs
    }

    private func publish(_ lag: UInt64?) {
        let wasUsable = isReplicaUsable
        lagMs = lag
        if wasUsable != isReplicaUsable {
            logger.warning(isReplicaUsable ? "reads go to the read replica" : "reads go to the primary: the read replica is behind or unreachable",
                           metadata: ["lag_ms": "\(lag.map(String.init) ?? "unknown")", "max_lag_ms": "\(maxLagMs)"])
        }
        onMeasured?(lag)
    }

    /// A pg_lsn's text, `16/B374D848`, as one number.
    static func parseLSN(_ text: String) -> UInt64? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16),
              high <= UInt64(UInt32.max), low <= UInt64(UInt32.max) else { return nil }
        return high << 32 | low
    }
}
