import Logging
import Synchronization

/// What the event loops of one process share, and the only ways they talk
/// to each other. Nothing here is on the per-message path:
/// - admission (a mutex per upgrade and close),
/// - the migrated and shutting-down flags (atomics, read by /readyz),
/// - the read replica's lag, measured on loop 0 (atomics, read by every
///   loop's reads and by /readyz),
/// - /metrics: the answering loop asks every loop, on its own thread, for a
///   snapshot of its plain counters and renders their sum,
/// - /readyz and the purger's open peer_connections ids, gathered the same way.
final class ShardGroup {
    let settings: Settings
    let logger: Logger
    let conninfo: String
    let admission: Admission
    /// Tells this process's batches from other instances' (exactly-once markers).
    let instanceID = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    let metrics = MetricsRegistry()
    /// Observed by every loop's writer, once per batch (with its lock).
    let batchHistograms: BatchHistograms
    /// Observed by every loop's network tracker, once per flush.
    let propagationHistograms: PropagationHistograms
    /// One scrape renders at a time: the registry mirrors into itself.
    private let scrapeLock = Mutex(())
    private let migrated = Atomic<Bool>(false)
    private let shuttingDown = Atomic<Bool>(false)
    /// -1: unknown (or no DATABASE_READ_URL).
    private let replicaLag = Atomic<Int64>(-1)
    private let replicaUsable = Atomic<Bool>(false)
    /// The last snapshot of each shard that has stopped, by index: its
    /// counts stay in the totals (a Prometheus counter never goes down).
    private let finalReadings = Mutex<[Int: MetricReadings]>([:])
    /// Filled before any loop thread starts, never changed after.
    private(set) var shards: [Shard] = []

    init(settings: Settings, logger: Logger, conninfo: String) {
        self.settings = settings
        self.logger = logger
        self.conninfo = conninfo
        admission = Admission(policy: AdmissionPolicy(settings))
        batchHistograms = BatchHistograms(registry: metrics.prometheus)
        propagationHistograms = PropagationHistograms(registry: metrics.prometheus)
    }

    func add(_ shard: Shard) {
        shards.append(shard)
    }

    var isMigrated: Bool { migrated.load(ordering: .acquiring) }
    var isShuttingDown: Bool { shuttingDown.load(ordering: .acquiring) }

    /// The read replica's lag in milliseconds, nil when unknown.
    var readReplicaLagMs: Int64? {
        let lag = replicaLag.load(ordering: .acquiring)
        return lag < 0 ? nil : lag
    }

    /// Reads may go to the read replica (ReadRoute).
    var isReadReplicaUsable: Bool { replicaUsable.load(ordering: .acquiring) }

    /// On loop 0, at each measurement of the replica's lag.
    func recordReadReplica(lagMs: UInt64?, usable: Bool) {
        replicaLag.store(lagMs.map { Int64(clamping: $0) } ?? -1, ordering: .releasing)
        replicaUsable.store(usable, ordering: .releasing)
    }

    func markMigrated() { migrated.store(true, ordering: .releasing) }
    func markShuttingDown() { shuttingDown.store(true, ordering: .releasing) }

    /// On the shard's loop, as it stops.
    func recordFinalSnapshot(of shard: Shard) {
        let readings = shard.metricReadings()
        finalReadings.withLock { $0[shard.index] = readings }
    }

    /// Runs `read` on every shard's own loop and calls `completion` on the
    /// requester's loop with the results in shard order; nil for an shard
    /// that has already stopped.
    func collect<T>(from requester: Shard, _ read: @escaping (Shard) -> T,
                    _ completion: @escaping ([T?]) -> Void) {
        // Touched only on the requester's loop: each answer is posted back.
        var results = [T?](repeating: nil, count: shards.count)
        var pending = shards.count
        let answer = { (index: Int, value: T?) in
            results[index] = value
            pending -= 1
            if pending == 0 { completion(results) }
        }
        for shard in shards {
            if shard === requester {
                answer(shard.index, read(shard))
                continue
            }
            let posted = shard.mailbox.post {
                let value = read(shard)
                // A requester that stopped meanwhile answers nobody.
                requester.mailbox.post { answer(shard.index, value) }
            }
            if !posted { answer(shard.index, nil) }
        }
    }

    /// The /metrics exposition of the whole process, on the requester's loop.
    func scrape(from requester: Shard, _ respond: @escaping ([UInt8]) -> Void) {
        collect(from: requester, { $0.metricReadings() }) { [self] answers in
            var total = MetricReadings()
            for (index, answered) in answers.enumerated() {
                guard let readings = answered ?? finalReadings.withLock({ $0[index] }) else { continue }
                total.add(readings)
            }
            // The network gauges: every loop's view is the same network, so
            // the answering loop's alone.
            requester.recordNetwork(into: &total)
            ProcessStatistics.read()?.record(into: &total)
            MachineStatistics.read().record(into: &total)
            let body = scrapeLock.withLock { _ in metrics.exposition(total) }
            respond(body)
        }
    }
}
