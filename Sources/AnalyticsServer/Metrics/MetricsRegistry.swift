import Prometheus

/// Gauges of objects the metrics layer does not own, read by the service
/// at scrape time (all in memory: a scrape never touches the database).
struct ServerState {
    struct Pool {
        var name: String
        var open: Int
        var busy: Int
        var reconnects: Int
    }

    var telemetryConnections = 0
    var bufferedBytes = 0
    var backpressureActive = false
    var pools: [Pool] = []
    var purgeRuns = 0
    var purgedRows = 0
    var purgedConnections = 0
    var purgedPartitions = 0
    var partitionsMade = 0
    var feedCaches = 0
    /// Telemetry connections open on each event loop, by loop index.
    var loopConnections: [Int] = []

    /// Another loop's state added to this one: counts add up, pools of the
    /// same name are one pool, backpressure is active if active anywhere.
    mutating func add(_ other: ServerState) {
        telemetryConnections += other.telemetryConnections
        bufferedBytes += other.bufferedBytes
        backpressureActive = backpressureActive || other.backpressureActive
        for pool in other.pools {
            if let index = pools.firstIndex(where: { $0.name == pool.name }) {
                pools[index].open += pool.open
                pools[index].busy += pool.busy
                pools[index].reconnects += pool.reconnects
            } else {
                pools.append(pool)
            }
        }
        purgeRuns += other.purgeRuns
        purgedRows += other.purgedRows
        purgedConnections += other.purgedConnections
        purgedPartitions += other.purgedPartitions
        partitionsMade += other.partitionsMade
        feedCaches += other.feedCaches
        loopConnections += other.loopConnections
    }
}

/// Owns the swift-prometheus registry and every family of /metrics, once
/// per process. Each event loop keeps its own plain counters (LoopCounters);
/// their sum is mirrored into the registry when /metrics is scraped; /proc
/// is read at the same moment. Not thread-safe: one scrape at a time.
package final class MetricsRegistry {
    private let registry = PrometheusCollectorRegistry()
    private let batches: BatchHistograms
    private let counters: PipelineCounters
    private let gauges: Gauges
    private var rejected: [RejectReason: MirroredCounter] = [:]
    private var refused: [Admission.Refusal: MirroredCounter] = [:]
    private var closes: [UInt16: MirroredCounter] = [:]
    private var requests: [HTTPMetrics.RequestKey: MirroredCounter] = [:]
    private var pools: [String: PoolFamilies] = [:]
    private var loopConnections: [Int: Gauge] = [:]
    private var lastSize = 16 * 1024

    package init() {
        batches = BatchHistograms(registry: registry)
        counters = PipelineCounters(registry)
        gauges = Gauges(registry)
        // Every reason from the start: a zero is a reading, a missing series is not.
        for reason in RejectReason.allCases {
            rejected[reason] = MirroredCounter(registry.makeCounter(
                descriptor: .named("tetcore_messages_rejected_total", help: Help.rejected), labels: [("reason", reason.rawValue)]))
        }
        for reason in Admission.Refusal.allCases {
            refused[reason] = MirroredCounter(registry.makeCounter(
                descriptor: .named("tetcore_connections_refused_total", help: Help.refused), labels: [("reason", reason.rawValue)]))
        }
    }

    /// Counters for one event loop, sharing this registry's histograms.
    func makeLoopCounters() -> LoopCounters {
        LoopCounters(batches: batches)
    }

    /// The text exposition (format 0.0.4) as of now: `state` is the whole
    /// process's, `loops` are snapshots of every loop's counters.
    func exposition(_ state: ServerState, loops: [LoopCounters]) -> [UInt8] {
        let total = makeLoopCounters()
        for counters in loops { total.add(counters) }
        let (ingestion, http, feed) = (total.ingestion, total.http, total.feed)
        let process = ProcessStatistics.read()
        let machine = MachineStatistics.read()
        mirrorCounters(state, total, process)
        setGauges(state, total, process, machine)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(lastSize)
        registry.emit(into: &buffer)
        UntypedFamilies.write([
            .init(name: "tetcore_message_count", help: "Telemetry data messages received (pings and pongs excluded).",
                  value: ingestion.messagesReceived),
            .init(name: "tetcore_bytes_received", help: "Bytes of telemetry data messages received.", value: ingestion.bytesReceived),
            .init(name: "nodes_connected_count", help: "Telemetry WebSocket connections accepted.", value: ingestion.nodesConnected),
            .init(name: "nodes_dropped_count", help: "Telemetry WebSocket connections ended.", value: ingestion.nodesDropped),
            .init(name: "requests", help: "HTTP requests answered, except to WebSocket routes and /metrics.",
                  value: http.requestsExceptWebSocketsAndMetrics),
            .init(name: "feeds_connected", help: "Feed WebSocket connections accepted.", value: feed.connected),
            .init(name: "feeds_disconnected", help: "Feed WebSocket connections ended.", value: feed.disconnected),
            .init(name: "bytes_received", help: "Bytes received by the machine on all its network interfaces.",
                  value: machine.networkReceivedBytes),
            .init(name: "bytes_sent", help: "Bytes sent by the machine on all its network interfaces.", value: machine.networkSentBytes),
        ], into: &buffer)
        lastSize = buffer.count
        return buffer
    }

    private func mirrorCounters(_ state: ServerState, _ total: LoopCounters, _ process: ProcessStatistics?) {
        let (ingestion, http, feed) = (total.ingestion, total.http, total.feed)
        counters.mirror(ingestion, feed, state)
        for (reason, counter) in rejected { counter.mirror(ingestion.rejected[reason] ?? 0) }
        for (reason, counter) in refused { counter.mirror(ingestion.connectionsRefused[reason.rawValue] ?? 0) }
        for (code, count) in http.closes {
            counter(&closes, code, name: "tetcore_websocket_closes_total", labels: [("code", String(code))],
                    help: Help.closes).mirror(count)
        }
        for (key, count) in http.requests {
            counter(&requests, key, name: "tetcore_http_requests_total",
                    labels: [("route", key.route), ("status", String(key.status))], help: Help.requests).mirror(count)
        }
        for pool in state.pools {
            let families = pools[pool.name] ?? PoolFamilies(registry, pool: pool.name)
            pools[pool.name] = families
            families.open.set(to: Double(pool.open))
            families.busy.set(to: Double(pool.busy))
            families.reconnects.mirror(pool.reconnects)
        }
        if let process { counters.cpuSeconds.mirror(seconds: process.cpuSeconds) }
    }

    /// The series of a label set, made the first time the set is seen.
    private func counter<Key: Hashable>(_ series: inout [Key: MirroredCounter], _ key: Key, name: String,
                                        labels: [(String, String)], help: String) -> MirroredCounter {
        if let existing = series[key] { return existing }
        let made = MirroredCounter(registry.makeCounter(descriptor: .named(name, help: help), labels: labels))
        series[key] = made
        return made
    }

    private func setGauges(_ state: ServerState, _ total: LoopCounters, _ process: ProcessStatistics?,
                           _ machine: MachineStatistics) {
        gauges.telemetryConnections.set(to: Double(state.telemetryConnections))
        gauges.feedConnections.set(to: Double(total.feed.open))
        gauges.feedCaches.set(to: Double(state.feedCaches))
        gauges.bufferedRows.set(to: Double(total.ingestion.rowsBuffered))
        gauges.bufferedBytes.set(to: Double(state.bufferedBytes))
        gauges.backpressureActive.set(to: state.backpressureActive ? 1 : 0)
        for (index, open) in state.loopConnections.enumerated() {
            let gauge = loopConnections[index] ?? registry.makeGauge(
                descriptor: .named("tetcore_event_loop_connections", help: Help.loopConnections), labels: [("loop", String(index))])
            loopConnections[index] = gauge
            gauge.set(to: Double(open))
        }
        if let process { gauges.set(process) }
        gauges.set(machine)
    }
}

/// Help of labelled families: every series of a family must repeat it.
private enum Help {
    static let rejected = "Telemetry messages not stored, by reason."
    static let refused = "Telemetry upgrades refused before the upgrade (INGEST_ALLOW, blocks: 403; connection limits: 503), by reason."
    static let closes = "WebSocket connections ended, by close code (1006: without a close frame)."
    static let requests = "HTTP requests answered, by route pattern and status (unmatched: no route or unparsable)."
    static let poolOpen = "PostgreSQL connections open and ready, by pool."
    static let poolBusy = "PostgreSQL connections with statements in flight, by pool."
    static let poolReconnects = "PostgreSQL connections made again after a failure, by pool."
    static let loopConnections = "Telemetry WebSocket connections open now, by event loop (NUM_THREADS)."
}

/// The pipeline's unlabelled counters and the process's CPU time.
private struct PipelineCounters {
    let rowsWritten, rowsRejected, batchesWritten, batchRetries, upgradesRefused: MirroredCounter
    let pausedSeconds, purgeRuns, purgedRows, purgedConnections, cpuSeconds: MirroredCounter
    let rateLimitCloses, purgedPartitions, partitionsMade, feedClientsTooSlow, feedRefreshesAbandoned: MirroredCounter

    init(_ registry: PrometheusCollectorRegistry) {
        func make(_ name: String, _ help: String) -> MirroredCounter {
            MirroredCounter(registry.makeCounter(descriptor: .named(name, help: help)))
        }
        rowsWritten = make("tetcore_rows_written_total", "Log rows committed to PostgreSQL, each once.")
        rowsRejected = make("tetcore_rows_rejected_total", "Log rows PostgreSQL refused (a value jsonb cannot hold); logged.")
        batchesWritten = make("tetcore_batches_written_total", "Insert batches committed.")
        batchRetries = make("tetcore_batch_retries_total", "Batch sends repeated after a lost connection or a database error.")
        upgradesRefused = make("tetcore_upgrades_refused_total", "Telemetry upgrades refused with 503 (database unavailable).")
        pausedSeconds = make("tetcore_backpressure_paused_seconds_total",
                             "Time node sockets spent paused by backpressure, counted when each pause ends.")
        purgeRuns = make("tetcore_purge_runs_total", "Purge passes started.")
        purgedRows = make("tetcore_purged_rows_total", "Expired log rows deleted.")
        purgedConnections = make("tetcore_purged_connections_total", "Expired peer connections deleted.")
        cpuSeconds = make("process_cpu_seconds_total", "User and system CPU time spent by the process.")
        rateLimitCloses = make("tetcore_rate_limit_closes_total",
                               "Telemetry connections closed with 1008 for going over INGEST_MAX_BYTES_PER_S.")
        purgedPartitions = make("tetcore_purged_partitions_total", "Expired daily log partitions dropped.")
        partitionsMade = make("tetcore_log_partitions_made_total", "Daily log partitions made ahead.")
        feedClientsTooSlow = make("tetcore_feed_clients_too_slow_total", "Feed clients disconnected (1008) for falling behind.")
        feedRefreshesAbandoned = make("tetcore_feed_refreshes_abandoned_total",
                                      "Feed cache refreshes abandoned after 4 x CACHE_UPDATE_TIMEOUT_S.")
    }

    func mirror(_ ingestion: IngestionMetrics, _ feed: FeedMetrics, _ state: ServerState) {
        feedClientsTooSlow.mirror(feed.clientsTooSlow)
        feedRefreshesAbandoned.mirror(feed.refreshesAbandoned)
        rowsWritten.mirror(ingestion.rowsWritten)
        rowsRejected.mirror(ingestion.rowsRejectedByDatabase)
        batchesWritten.mirror(ingestion.batchesWritten)
        batchRetries.mirror(ingestion.batchRetries)
        upgradesRefused.mirror(ingestion.upgradesRefused)
        pausedSeconds.mirror(seconds: Double(ingestion.backpressurePausedMs) / 1000)
        purgeRuns.mirror(state.purgeRuns)
        purgedRows.mirror(state.purgedRows)
        purgedConnections.mirror(state.purgedConnections)
        rateLimitCloses.mirror(ingestion.rateLimitCloses)
        purgedPartitions.mirror(state.purgedPartitions)
        partitionsMade.mirror(state.partitionsMade)
    }
}

private struct PoolFamilies {
    let open: Gauge
    let busy: Gauge
    let reconnects: MirroredCounter

    init(_ registry: PrometheusCollectorRegistry, pool: String) {
        let labels = [("pool", pool)]
        open = registry.makeGauge(descriptor: .named("tetcore_database_connections_open", help: Help.poolOpen), labels: labels)
        busy = registry.makeGauge(descriptor: .named("tetcore_database_connections_busy", help: Help.poolBusy), labels: labels)
        reconnects = MirroredCounter(registry.makeCounter(
            descriptor: .named("tetcore_database_reconnects_total", help: Help.poolReconnects), labels: labels))
    }
}

/// Every unlabelled gauge: the server's own, the process's, the machine's.
private struct Gauges {
    let telemetryConnections, feedConnections, feedCaches, bufferedRows, bufferedBytes, backpressureActive: Gauge
    let residentBytes, virtualBytes, startTime, openFDs, maxFDs: Gauge
    let loadOne, loadFive, loadFifteen, memoryTotal, memoryUsed, swapTotal, swapUsed: Gauge

    init(_ registry: PrometheusCollectorRegistry) {
        func make(_ name: String, _ help: String) -> Gauge { registry.makeGauge(descriptor: .named(name, help: help)) }
        telemetryConnections = make("current_tetcore_connections", "Telemetry WebSocket connections open now.")
        feedConnections = make("current_feed_connections", "Feed WebSocket connections open now.")
        feedCaches = make("tetcore_feed_caches", "Feed caches held, one per subscribed (peer id, msg).")
        bufferedRows = make("tetcore_buffered_rows", "Log rows accepted and not yet committed or rejected by PostgreSQL.")
        bufferedBytes = make("tetcore_buffered_bytes", "Bytes of those rows held in memory (the MAX_BUFFERED_BYTES budget).")
        backpressureActive = make("tetcore_backpressure_active", "1 while node sockets are paused because the buffer is full.")
        residentBytes = make("process_resident_memory_bytes", "Resident memory of the process.")
        virtualBytes = make("process_virtual_memory_bytes", "Virtual memory size of the process.")
        startTime = make("process_start_time_seconds", "Start time of the process since the Unix epoch.")
        openFDs = make("process_open_fds", "File descriptors the process has open.")
        maxFDs = make("process_max_fds", "The process's limit of open file descriptors.")
        loadOne = make("load_avg_one", "The machine's load average over 1 minute.")
        loadFive = make("load_avg_five", "The machine's load average over 5 minutes.")
        loadFifteen = make("load_avg_fifteen", "The machine's load average over 15 minutes.")
        memoryTotal = make("total_mem", "The machine's memory in KiB.")
        memoryUsed = make("used_mem", "The machine's memory in use in KiB (total less available).")
        swapTotal = make("total_swap", "The machine's swap space in KiB.")
        swapUsed = make("used_swap", "The machine's swap space in use in KiB.")
    }

    func set(_ process: ProcessStatistics) {
        residentBytes.set(to: Double(process.residentBytes))
        virtualBytes.set(to: Double(process.virtualBytes))
        startTime.set(to: process.startTimeSeconds)
        openFDs.set(to: Double(process.openFileDescriptors))
        maxFDs.set(to: Double(process.maxFileDescriptors))
    }

    func set(_ machine: MachineStatistics) {
        loadOne.set(to: machine.loadAverageOne)
        loadFive.set(to: machine.loadAverageFive)
        loadFifteen.set(to: machine.loadAverageFifteen)
        memoryTotal.set(to: Double(machine.memoryTotalKiB))
        memoryUsed.set(to: Double(machine.memoryUsedKiB))
        swapTotal.set(to: Double(machine.swapTotalKiB))
        swapUsed.set(to: Double(machine.swapUsedKiB))
    }
}
