import Logging
import PostgresClient
import Reactor

/// Looks after the network's history (Migrations/0006-0008), on loop 0:
/// - every 30 s, compacts the block imports of blocks older than the
///   propagation window into one row per block (network_blocks);
/// - every PURGE_INTERVAL_S, deletes what is older than
///   NETWORK_HISTORY_EXPIRY_H (whole monthly series partitions first, then
///   the rest in chunks, like the log purge), and node rows offline for a
///   day;
/// - every hour, makes next month's series partition ahead.
/// Every step takes the network history's advisory lock without waiting,
/// so instances sharing a database never do the same work at once.
final class NetworkHistoryKeeper {
    /// Arbitrary, shared by every instance and the migrations' functions.
    static let lockKey = 0x7e7c_0de2
    static let chunkRows = 10_000
    static let compactIntervalMs: UInt64 = 30_000
    static let partitionIntervalMs: UInt64 = 3_600_000
    /// The propagation window (NetworkModel's BlockArrivals) and a margin
    /// for the last flush: no import of an older block can still come.
    static let compactAfterS = 300 + 60
    /// Node rows are dropped this long after their node last spoke.
    static let offlineNodeRetentionHours = 24

    final class Counters: CounterSet {
        var blocksCompacted = EventCounter(.init(.counter, "tetcore_network_blocks_compacted_total",
                                                 help: "Blocks whose imports were compacted into one propagation row."))
        var rowsPurged = EventCounter(.init(.counter, "tetcore_network_history_purged_rows_total",
                                            help: "Network history rows deleted after NETWORK_HISTORY_EXPIRY_H (series, blocks, sessions, node rows)."))
        var partitionsDropped = EventCounter(.init(.counter, "tetcore_network_series_partitions_dropped_total",
                                                   help: "Monthly series partitions dropped after NETWORK_HISTORY_EXPIRY_H."))
    }

    /// One chunk of a table's expired rows: up to the time of its
    /// chunkRows-th oldest expired row (a range, not row ids, so it also
    /// runs on a distributed table). $1: expiry hours, $2: chunk rows.
    static func purgeStatement(table: String, column: String) -> String {
        """
        WITH lock AS (SELECT pg_try_advisory_xact_lock(\(lockKey)) AS held), \
        cutoff AS (SELECT (now() AT TIME ZONE 'utc') - make_interval(hours => $1) AS at), \
        boundary AS (SELECT \(column) AS at FROM \(table) WHERE (SELECT held FROM lock) \
                     AND \(column) < (SELECT at FROM cutoff) ORDER BY \(column) OFFSET $2 - 1 LIMIT 1), \
        deleted AS (DELETE FROM \(table) WHERE (SELECT held FROM lock) AND \(column) < (SELECT at FROM cutoff) \
                    AND \(column) <= coalesce((SELECT at FROM boundary), 'infinity') RETURNING 1) \
        SELECT (SELECT held FROM lock), (SELECT count(*) FROM deleted)
        """
    }

    static let purgeTables: [(table: String, column: String)] = [
        ("network_node_series", "at"), ("network_blocks", "first_seen"), ("network_node_sessions", "last_seen_at"),
    ]

    static let purgeOfflineNodes = """
        WITH lock AS (SELECT pg_try_advisory_xact_lock(\(lockKey)) AS held), \
        deleted AS (DELETE FROM network_nodes WHERE (SELECT held FROM lock) \
                    AND last_message_at < (now() AT TIME ZONE 'utc') - make_interval(hours => \(offlineNodeRetentionHours)) \
                    RETURNING 1) \
        SELECT (SELECT held FROM lock), (SELECT count(*) FROM deleted)
        """

    let counters = Counters()
    private let queue: StatementQueue
    private let expiryHours: Int
    private let logger: Logger
    private let compactTimer: LoopTimer
    private let purgeTimer: LoopTimer
    private let partitionTimer: LoopTimer
    private var purging = false

    init(loop: EventLoop, queue: StatementQueue, expiryHours: Int, logger: Logger) {
        self.queue = queue
        self.expiryHours = expiryHours
        self.logger = logger
        compactTimer = LoopTimer(loop: loop)
        purgeTimer = LoopTimer(loop: loop)
        partitionTimer = LoopTimer(loop: loop)
    }

    func start(purgeIntervalSeconds: Int) {
        makePartitions()
        partitionTimer.start(after: Self.partitionIntervalMs, repeat: Self.partitionIntervalMs) { [weak self] in self?.makePartitions() }
        compactTimer.start(after: Self.compactIntervalMs, repeat: Self.compactIntervalMs) { [weak self] in self?.compact() }
        let interval = UInt64(purgeIntervalSeconds) * 1000
        purgeTimer.start(after: interval, repeat: interval) { [weak self] in self?.purge() }
    }

    func stop() {
        compactTimer.stop()
        purgeTimer.stop()
        partitionTimer.stop()
    }

    func compact(_ completion: (() -> Void)? = nil) {
        submit("SELECT tetcore_compact_block_arrivals($1)", [.int32(Int32(Self.compactAfterS))], what: "compacting block imports") { [weak self] rows in
            self?.counters.blocksCompacted += Int(rows?.string(0, 0) ?? "0") ?? 0
            completion?()
        }
    }

    func makePartitions(_ completion: (() -> Void)? = nil) {
        submit("SELECT tetcore_create_series_partitions(1)", [], what: "making series partitions") { _ in completion?() }
    }

    /// One expiry pass; not started twice.
    func purge(_ completion: (() -> Void)? = nil) {
        guard !purging else { return }
        purging = true
        let hours = PGParameter.int32(Int32(clamping: expiryHours))
        submit("SELECT held, partitions FROM tetcore_drop_expired_series_partitions($1)", [hours],
               what: "dropping expired series partitions") { [weak self] rows in
            self?.counters.partitionsDropped += Int(rows?.string(0, 1) ?? "0") ?? 0
            self?.purgeTables(Self.purgeTables[...]) {
                self?.submit(Self.purgeOfflineNodes, [], what: "deleting offline node rows") { rows in
                    self?.counters.rowsPurged += Int(rows?.string(0, 1) ?? "0") ?? 0
                    self?.purging = false
                    completion?()
                }
            }
        }
    }

    private func purgeTables(_ tables: ArraySlice<(table: String, column: String)>, then next: @escaping () -> Void) {
        guard let (table, column) = tables.first else { return next() }
        let parameters: [PGParameter] = [.int32(Int32(clamping: expiryHours)), .int64(Int64(Self.chunkRows))]
        submit(Self.purgeStatement(table: table, column: column), parameters, what: "purging \(table)") { [weak self] rows in
            guard let self else { return }
            let held = rows?.string(0, 0) == "t"
            let deleted = Int(rows?.string(0, 1) ?? "0") ?? 0
            self.counters.rowsPurged += deleted
            if held && deleted >= Self.chunkRows {
                self.purgeTables(tables, then: next) // more of this table
            } else {
                self.purgeTables(tables.dropFirst(), then: next)
            }
        }
    }

    /// Runs one statement; `done` gets its rows, or nil after a failure
    /// (logged: the next pass tries again).
    private func submit(_ sql: String, _ parameters: [PGParameter], what: String, _ done: @escaping (PGRows?) -> Void) {
        let logger = self.logger
        queue.submit(StatementQueue.Job(sql: sql, parameters: parameters) { result in
            switch result {
            case .success(let rows): done(rows)
            case .failure(let error):
                logger.warning("network history upkeep failed", metadata: ["step": "\(what)", "error": "\(error)"])
                done(nil)
            }
        }, priority: .bulk)
    }
}
