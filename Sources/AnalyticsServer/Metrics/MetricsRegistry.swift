import Prometheus

/// Owns the swift-prometheus registry behind /metrics, once per process.
/// Each scrape hands it the readings of every event loop, already added up,
/// and the process's own; it mirrors them into the registry and renders the
/// text exposition. Not thread-safe: one scrape at a time (ShardGroup).
final class MetricsRegistry {
    /// Histograms are observed straight into it (once per batch, with its
    /// lock); everything else is mirrored at scrape time.
    let prometheus = PrometheusCollectorRegistry()
    private var counters: [MetricSeries: MirroredCounter] = [:]
    private var gauges: [MetricSeries: Gauge] = [:]
    private var lastSize = 16 * 1024

    init() {}

    /// The text exposition (format 0.0.4) of `readings`.
    func exposition(_ readings: MetricReadings) -> [UInt8] {
        var untyped: [UntypedFamilies.Family] = []
        // Sorted, so that series appear in the same order at every scrape.
        for (series, value) in readings.values.sorted(by: { ($0.key.family.name, $0.key.labels) < ($1.key.family.name, $1.key.labels) }) {
            switch series.family.kind {
            case .counter:
                counter(series).mirror(value, integral: series.family.isIntegral)
            case .gauge:
                gauge(series).set(to: value)
            case .untyped:
                untyped.append(.init(name: series.family.name, help: series.family.help, value: Int(value)))
            }
        }
        // Series of volatile families that this scrape does not have are gone.
        for (series, gauge) in gauges where series.family.isVolatile && readings.values[series] == nil {
            prometheus.unregisterGauge(gauge)
            gauges[series] = nil
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(lastSize)
        prometheus.emit(into: &buffer)
        UntypedFamilies.write(untyped, into: &buffer)
        lastSize = buffer.count
        return buffer
    }

    /// The registry's series, made the first time it is read.
    private func counter(_ series: MetricSeries) -> MirroredCounter {
        if let existing = counters[series] { return existing }
        let made = MirroredCounter(prometheus.makeCounter(descriptor: .named(series.family.name, help: series.family.help),
                                                          labels: labels(series)))
        counters[series] = made
        return made
    }

    private func gauge(_ series: MetricSeries) -> Gauge {
        if let existing = gauges[series] { return existing }
        let made = prometheus.makeGauge(descriptor: .named(series.family.name, help: series.family.help), labels: labels(series))
        gauges[series] = made
        return made
    }

    private func labels(_ series: MetricSeries) -> [(String, String)] {
        Array(zip(series.family.labelNames, series.labels))
    }
}

private func < (lhs: (String, [String]), rhs: (String, [String])) -> Bool {
    lhs.0 != rhs.0 ? lhs.0 < rhs.0 : lhs.1.lexicographicallyPrecedes(rhs.1)
}
