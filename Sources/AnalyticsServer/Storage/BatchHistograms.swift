import Prometheus

/// Distributions observed once per committed batch. swift-prometheus's
/// histogram takes a lock per observation: one per batch (hundreds of
/// rows) costs nothing measurable, one per message would.
final class BatchHistograms {
    static let rowBuckets: [Double] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
    static let writeSecondsBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Up to DB_SAVE_LATENCY_MS plus the write in normal operation; the
    /// large buckets show batches held back by an unavailable database.
    static let commitLatencySecondsBuckets: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

    private let rows: ValueHistogram
    private let writeSeconds: ValueHistogram
    private let commitLatencySeconds: ValueHistogram

    init(registry: PrometheusCollectorRegistry) {
        rows = registry.makeValueHistogram(
            descriptor: .named("tetcore_batch_size_rows", help: "Rows in each committed insert batch."),
            buckets: BatchHistograms.rowBuckets)
        writeSeconds = registry.makeValueHistogram(
            descriptor: .named("tetcore_batch_write_duration_seconds",
                               help: "Time from sending a batch's insert to its commit (the successful attempt)."),
            buckets: BatchHistograms.writeSecondsBuckets)
        commitLatencySeconds = registry.makeValueHistogram(
            descriptor: .named("tetcore_message_commit_latency_seconds",
                               help: "Time from a batch's first message to its commit: the longest any of its messages waited."),
            buckets: BatchHistograms.commitLatencySecondsBuckets)
    }

    func observe(rows count: Int, writeNanoseconds: UInt64, ageMilliseconds: UInt64) {
        rows.record(Double(count))
        writeSeconds.record(Double(writeNanoseconds) / 1e9)
        commitLatencySeconds.record(Double(ageMilliseconds) / 1e3)
    }
}
