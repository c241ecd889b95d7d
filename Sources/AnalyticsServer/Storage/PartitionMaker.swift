import Logging
import Reactor
import PostgresClient

/// Keeps the daily partitions of tetcore_logs made ahead of time:
/// today and the next few days, at start and every hour, so rows land in
/// their day's partition rather than the default one and expiry can drop
/// whole days. The work is tetcore_create_log_partitions
/// (Migrations/0003), serialised across instances by an advisory lock.
final class PartitionMaker {
    static let daysAhead = 3
    static let intervalMs: UInt64 = 3_600_000

    private let queue: StatementQueue
    private let logger: Logger
    private let timer: LoopTimer
    private(set) var partitionsMade = EventCounter(.init(.counter, "tetcore_log_partitions_made_total",
                                                         help: "Daily telemetry partitions made ahead."))

    init(loop: EventLoop, queue: StatementQueue, logger: Logger) {
        self.queue = queue
        self.logger = logger
        timer = LoopTimer(loop: loop)
    }

    func start() {
        run()
        timer.start(after: PartitionMaker.intervalMs, repeat: PartitionMaker.intervalMs) { [weak self] in self?.run() }
    }

    func stop() {
        timer.stop()
    }

    func run(_ completion: (() -> Void)? = nil) {
        let sql = "SELECT tetcore_create_log_partitions(\(PartitionMaker.daysAhead))"
        queue.submit(StatementQueue.Job(sql: sql, parameters: []) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let rows):
                let made = Int(rows.string(0, 0) ?? "0") ?? 0
                self.partitionsMade += made
                if made > 0 { self.logger.info("made daily log partitions ahead", metadata: ["partitions": "\(made)"]) }
            case .failure(let error):
                // Rows still go to the default partition; nothing is lost.
                self.logger.warning("making daily log partitions failed", metadata: ["error": "\(error)"])
            }
            completion?()
        }, priority: .bulk)
    }
}
extension PartitionMaker: CounterSet {}
