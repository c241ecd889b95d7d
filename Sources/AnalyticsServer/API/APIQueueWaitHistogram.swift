import Prometheus

/// How long API requests waited for a database slot (APIQueryGate), shared
/// by the event loops. One locked observation per admitted request, a cost
/// lost in the query's own.
final class APIQueueWaitHistogram {
    static let buckets: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    private let seconds: ValueHistogram

    init(registry: PrometheusCollectorRegistry) {
        seconds = registry.makeValueHistogram(
            descriptor: .named("tetcore_api_queue_wait_seconds",
                               help: "Time API requests that got a database slot waited for it (0 when one was free)."),
            buckets: APIQueueWaitHistogram.buckets)
    }

    func observe(waitedMs: UInt64) {
        seconds.record(Double(waitedMs) / 1e3)
    }
}
