import Prometheus

/// A registry counter that follows a plain counter kept on the hot path:
/// each scrape adds what the source gained since the previous scrape, so
/// the registry is touched once per scrape, never once per event.
final class MirroredCounter {
    private let counter: Counter
    private var mirrored: Int64 = 0
    private var mirroredSeconds = 0.0

    init(_ counter: Counter) {
        self.counter = counter
    }

    func mirror(_ value: Int) {
        let value = Int64(value)
        // Sources only grow; swift-prometheus traps on a negative increment.
        guard value > mirrored else { return }
        counter.increment(by: value - mirrored)
        mirrored = value
    }

    func mirror(seconds: Double) {
        guard seconds > mirroredSeconds else { return }
        counter.increment(by: seconds - mirroredSeconds)
        mirroredSeconds = seconds
    }
}

extension MetricNameDescriptor {
    /// A family name given whole: the original's names have no namespace
    /// or unit to split off.
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
