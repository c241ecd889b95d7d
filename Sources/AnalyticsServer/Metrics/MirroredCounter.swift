import Prometheus

/// A registry counter that follows a plain counter kept on the hot path:
/// each scrape adds what the source gained since the previous scrape, so
/// the registry is touched once per scrape, never once per event.
final class MirroredCounter {
    private let counter: Counter
    private var mirrored = 0.0

    init(_ counter: Counter) {
        self.counter = counter
    }

    /// `value` is the source's total now; whole-number families are
    /// mirrored as integers so that they print without a fraction.
    func mirror(_ value: Double, integral: Bool) {
        // Sources only grow; swift-prometheus traps on a negative increment.
        guard value > mirrored else { return }
        if integral {
            counter.increment(by: Int64(value) - Int64(mirrored))
        } else {
            counter.increment(by: value - mirrored)
        }
        mirrored = value
    }
}

extension MetricNameDescriptor {
    /// A family name given whole: the original's names have no namespace
    /// or unit to split off.
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
