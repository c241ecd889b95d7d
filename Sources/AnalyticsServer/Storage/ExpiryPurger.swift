import Logging
import Reactor
import PostgresClient

/// Deletes expired telemetry every PURGE_INTERVAL_S: rows of non-audit
/// connections older than LOG_EXPIRY_H, then connection rows left with no
/// logs, then old exactly-once markers.
///
/// Whole days go first: the daily partitions of tetcore_logs that lie
/// entirely before the cutoff are dropped (Migrations/0003, 0004). What is
/// left (the part of the boundary day before the cutoff, and old rows in
/// the default partition) goes in chunks, each its own short transaction,
/// so ingestion never waits behind a long delete. Every step takes a
/// transaction-level advisory lock first and does nothing without it, so
/// instances sharing a database never purge at the same time.
final class ExpiryPurger {
    static let chunkRows = 10_000
    /// Markers are only consulted by a retry of a batch still in memory.
    static let markerRetentionHours = 6
    /// Arbitrary, shared by every instance; tetcore_drop_expired_log_partitions
    /// (Migrations/0003) takes the same key.
    static let lockKey = 0x7e7c_0de1

    static let dropPartitionsStatement = "SELECT held, partitions, rows_dropped FROM tetcore_drop_expired_log_partitions($1)"

    /// One chunk: live rows up to the created_at of the chunkRows-th oldest
    /// expired row (exactly chunkRows unless rows share that instant), or
    /// all of them when fewer are left. A range on created_at, not a ctid
    /// list, so the statement also runs on a sharded (Citus) table.
    static let purgeLogsStatement = """
        WITH lock AS (SELECT pg_try_advisory_xact_lock(\(lockKey)) AS held), \
        cutoff AS (SELECT (now() AT TIME ZONE 'utc') - make_interval(hours => $1) AS at), \
        boundary AS (SELECT created_at FROM tetcore_logs WHERE (SELECT held FROM lock) AND NOT audit \
        AND created_at < (SELECT at FROM cutoff) ORDER BY created_at OFFSET $2 - 1 LIMIT 1), \
        deleted AS (DELETE FROM tetcore_logs WHERE (SELECT held FROM lock) AND NOT audit AND created_at < (SELECT at FROM cutoff) \
        AND created_at <= coalesce((SELECT created_at FROM boundary), 'infinity') RETURNING 1) \
        SELECT (SELECT held FROM lock), (SELECT count(*) FROM deleted)
        """

    /// A connection row goes once it has no telemetry rows left, is not open here, and
    /// is older than the retention period: a node connected to another
    /// instance has stored something within that period (system.interval
    /// comes every 5 s), so its row is never taken from under it.
    static let purgeConnectionsStatement = """
        WITH lock AS (SELECT pg_try_advisory_xact_lock(\(lockKey)) AS held), \
        deleted AS (DELETE FROM peer_connections pc WHERE (SELECT held FROM lock) AND NOT pc.audit \
        AND pc.created_at < (now() AT TIME ZONE 'utc') - make_interval(hours => $1) AND NOT (pc.id = ANY($2::int4[])) \
        AND NOT EXISTS (SELECT 1 FROM tetcore_logs l WHERE l.peer_connection_id = pc.id) RETURNING 1) \
        SELECT (SELECT held FROM lock), (SELECT count(*) FROM deleted)
        """

    static let purgeMarkersStatement = """
        DELETE FROM ingest_batches WHERE committed_at < (now() AT TIME ZONE 'utc') - make_interval(hours => \(markerRetentionHours))
        """

    private let loop: EventLoop
    private let queue: StatementQueue
    private let expiryHours: Int
    /// Asynchronous: with several event loops, each is asked on its thread.
    private let openPeerConnectionIDs: (@escaping ([Int32]) -> Void) -> Void
    private let logger: Logger
    private let timer: LoopTimer
    private var running = false
    private(set) var counters = Counters()

    init(loop: EventLoop, queue: StatementQueue, expiryHours: Int,
         openPeerConnectionIDs: @escaping (@escaping ([Int32]) -> Void) -> Void, logger: Logger) {
        self.loop = loop
        self.queue = queue
        self.expiryHours = expiryHours
        self.openPeerConnectionIDs = openPeerConnectionIDs
        self.logger = logger
        timer = LoopTimer(loop: loop)
    }

    func start(intervalSeconds: Int) {
        let interval = UInt64(intervalSeconds) * 1000
        timer.start(after: interval, repeat: interval) { [weak self] in self?.run() }
    }

    func stop() {
        timer.stop()
    }

    /// One purge pass; a pass still running is not started twice.
    func run(_ completion: (() -> Void)? = nil) {
        guard !running else { return }
        running = true
        counters.runs += 1
        dropExpiredPartitions { [weak self] in
            self?.deleteLogs { [weak self] in
                self?.deleteConnections { [weak self] in
                    self?.queue.submit(StatementQueue.Job(sql: ExpiryPurger.purgeMarkersStatement, parameters: []) { _ in
                        self?.running = false
                        completion?()
                    }, priority: .bulk)
                }
            }
        }
    }

    private func dropExpiredPartitions(then next: @escaping () -> Void) {
        let parameters: [PGParameter] = [.int32(Int32(clamping: expiryHours))]
        queue.submit(StatementQueue.Job(sql: ExpiryPurger.dropPartitionsStatement, parameters: parameters) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let rows):
                let partitions = Int(rows.string(0, 1) ?? "0") ?? 0
                let dropped = Int(rows.string(0, 2) ?? "0") ?? 0
                self.counters.partitionsDropped += partitions
                self.counters.rowsPurged += dropped
                if partitions > 0 {
                    self.logger.info("dropped expired log partitions", metadata: ["partitions": "\(partitions)", "rows": "\(dropped)"])
                }
            case .failure(let error):
                self.logger.warning("dropping expired log partitions failed", metadata: ["error": "\(error)"])
            }
            next()
        }, priority: .bulk)
    }

    private func deleteLogs(then next: @escaping () -> Void) {
        let parameters: [PGParameter] = [.int32(Int32(clamping: expiryHours)), .int64(Int64(ExpiryPurger.chunkRows))]
        queue.submit(StatementQueue.Job(sql: ExpiryPurger.purgeLogsStatement, parameters: parameters) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let rows):
                let held = rows.string(0, 0) == "t"
                let deleted = Int(rows.string(0, 1) ?? "0") ?? 0
                self.counters.rowsPurged += deleted
                if held && deleted >= ExpiryPurger.chunkRows {
                    self.deleteLogs(then: next) // more to go: next chunk
                } else {
                    if !held { self.logger.debug("another instance is purging; skipping this pass") }
                    next()
                }
            case .failure(let error):
                self.logger.warning("purge of expired logs failed", metadata: ["error": "\(error)"])
                next()
            }
        }, priority: .bulk)
    }

    private func deleteConnections(then next: @escaping () -> Void) {
        openPeerConnectionIDs { [weak self] openPeerConnectionIDs in
            self?.deleteConnections(keeping: openPeerConnectionIDs, then: next)
        }
    }

    private func deleteConnections(keeping openPeerConnectionIDs: [Int32], then next: @escaping () -> Void) {
        let parameters: [PGParameter] = [.int32(Int32(clamping: expiryHours)), .text(ExpiryPurger.arrayLiteral(openPeerConnectionIDs))]
        queue.submit(StatementQueue.Job(sql: ExpiryPurger.purgeConnectionsStatement, parameters: parameters) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let rows):
                self.counters.connectionsPurged += Int(rows.string(0, 1) ?? "0") ?? 0
            case .failure(let error):
                self.logger.warning("purge of connection rows failed", metadata: ["error": "\(error)"])
            }
            next()
        }, priority: .bulk)
    }

    /// `{1,2,3}`: an int4[] in text form (integers only, nothing to escape).
    static func arrayLiteral(_ ids: [Int32]) -> String {
        "{" + ids.map(String.init).joined(separator: ",") + "}"
    }
}

extension ExpiryPurger {
    /// What the purge passes did, for /metrics.
    struct Counters: CounterSet {
        var runs = EventCounter(.init(.counter, "tetcore_purge_runs_total", help: "Purge passes started."))
        var rowsPurged = EventCounter(.init(.counter, "tetcore_purged_rows_total", help: "Expired telemetry rows deleted."))
        var partitionsDropped = EventCounter(.init(.counter, "tetcore_purged_partitions_total",
                                                   help: "Expired daily telemetry partitions dropped."))
        var connectionsPurged = EventCounter(.init(.counter, "tetcore_purged_connections_total",
                                                   help: "Expired peer connections deleted."))
    }
}
