/// The plain counters of one event loop. The loop that owns them bumps
/// them with no lock or atomic; a /metrics scrape asks each loop, on its own
/// thread, for a `snapshot()` and adds the snapshots up, so the process's
/// totals come out whatever loop answers the scrape.
public final class LoopCounters {
    public let ingestion: IngestionMetrics
    public let http: HTTPMetrics
    public let feed: FeedMetrics

    /// `batches` is the process's: its histograms take a lock per batch.
    init(batches: BatchHistograms) {
        ingestion = IngestionMetrics(batches: batches)
        http = HTTPMetrics()
        feed = FeedMetrics()
    }

    /// A copy, taken on the owning loop, that another thread may read.
    func snapshot() -> LoopCounters {
        let copy = LoopCounters(batches: ingestion.batches)
        copy.add(self)
        return copy
    }

    /// Adds `other`'s counts to these.
    func add(_ other: LoopCounters) {
        ingestion.add(other.ingestion)
        http.add(other.http)
        feed.add(other.feed)
    }
}

extension IngestionMetrics {
    func add(_ other: IngestionMetrics) {
        messagesReceived += other.messagesReceived
        bytesReceived += other.bytesReceived
        rejected.merge(other.rejected, uniquingKeysWith: +)
        nodesConnected += other.nodesConnected
        nodesDropped += other.nodesDropped
        rowsBatched += other.rowsBatched
        rowsWritten += other.rowsWritten
        rowsRejectedByDatabase += other.rowsRejectedByDatabase
        rowsKeptOutByDatabase += other.rowsKeptOutByDatabase
        batchesWritten += other.batchesWritten
        batchRetries += other.batchRetries
        upgradesRefused += other.upgradesRefused
        connectionsRefused.merge(other.connectionsRefused, uniquingKeysWith: +)
        rateLimitCloses += other.rateLimitCloses
        backpressurePausedMs += other.backpressurePausedMs
    }
}

extension FeedMetrics {
    func add(_ other: FeedMetrics) {
        connected += other.connected
        disconnected += other.disconnected
        clientsTooSlow += other.clientsTooSlow
        refreshesAbandoned += other.refreshesAbandoned
    }
}
