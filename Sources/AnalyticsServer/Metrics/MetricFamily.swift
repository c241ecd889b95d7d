/// One family of /metrics, declared once, as a `static let` beside the code
/// that measures it. Everything else (summing the event loops, mirroring
/// into the Prometheus registry, the text exposition) is generic.
struct MetricFamily: Hashable, Sendable {
    enum Kind: Sendable {
        case counter
        case gauge
        /// The original's names, which predate Prometheus's conventions
        /// (see UntypedFamilies).
        case untyped
    }

    /// How two event loops' readings of one series combine.
    enum Combination: Sendable {
        case sum
        /// A flag: set if set on any loop.
        case maximum
    }

    let name: String
    let help: String
    let kind: Kind
    let labelNames: [String]
    let combination: Combination
    /// Multiplies the raw reading (milliseconds kept on the hot path,
    /// exposed as seconds).
    let scale: Double
    /// Whole numbers are written as such ("12", not "12.0").
    let isIntegral: Bool
    /// Its series come and go (a chain, a node): a gauge series absent from
    /// a scrape's readings is removed from the exposition, not kept at its
    /// last value.
    let isVolatile: Bool

    init(_ kind: Kind, _ name: String, help: String, labels: [String] = [], combination: Combination = .sum,
         scale: Double = 1, isIntegral: Bool = true, isVolatile: Bool = false) {
        self.kind = kind
        self.name = name
        self.help = help
        labelNames = labels
        self.combination = combination
        self.scale = scale
        self.isIntegral = isIntegral && scale == 1
        self.isVolatile = isVolatile
    }

    // A family is its name: the exposition has one of each.
    static func == (lhs: MetricFamily, rhs: MetricFamily) -> Bool { lhs.name == rhs.name }
    func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

/// A counter bumped on the hot path: a plain integer, no lock or atomic,
/// owned by one event loop. Its family travels with it, so a type's
/// counters are read with no list kept anywhere else (CounterSet).
struct EventCounter {
    let family: MetricFamily
    private(set) var value = 0

    init(_ family: MetricFamily) {
        self.family = family
    }

    static func += (counter: inout EventCounter, amount: Int) {
        counter.value += amount
    }
}

/// A counter with labels; `preset` series read 0 from the start (a zero
/// is a reading, a missing series is not).
struct LabelledEventCounter {
    let family: MetricFamily
    private(set) var values: [[String]: Int] = [:]

    init(_ family: MetricFamily, preset: [[String]] = []) {
        self.family = family
        for labels in preset { values[labels] = 0 }
    }

    mutating func increment(_ labels: [String], by amount: Int = 1) {
        values[labels, default: 0] += amount
    }

    subscript(labels: [String]) -> Int { values[labels] ?? 0 }
}

/// One series: a family and its label values, in `labelNames` order.
struct MetricSeries: Hashable, Sendable {
    let family: MetricFamily
    let labels: [String]
}

/// What one event loop (or the process) reads at scrape time: series and
/// values, copied so that another thread may add them up.
struct MetricReadings: Sendable {
    private(set) var values: [MetricSeries: Double] = [:]

    mutating func record(_ family: MetricFamily, _ value: Double, labels: [String] = []) {
        values[MetricSeries(family: family, labels: labels)] = value * family.scale
    }

    mutating func record(_ family: MetricFamily, _ value: Int, labels: [String] = []) {
        record(family, Double(value), labels: labels)
    }

    /// Another loop's readings combined into these, series by series.
    mutating func add(_ other: MetricReadings) {
        for (series, value) in other.values {
            switch series.family.combination {
            case .sum: values[series, default: 0] += value
            case .maximum: values[series] = max(values[series] ?? value, value)
            }
        }
    }

    subscript(family: MetricFamily, labels: String...) -> Double? {
        values[MetricSeries(family: family, labels: labels)]
    }
}

/// A type whose `EventCounter` and `LabelledEventCounter` stored properties are its
/// metrics. They are found by reflection at scrape time (once per scrape,
/// never per event), so declaring the property is all a new counter needs.
protocol CounterSet {}

extension CounterSet {
    func readCounters(into readings: inout MetricReadings) {
        for child in Mirror(reflecting: self).children {
            if let counter = child.value as? EventCounter {
                readings.record(counter.family, counter.value)
            } else if let counter = child.value as? LabelledEventCounter {
                for (labels, value) in counter.values { readings.record(counter.family, value, labels: labels) }
            }
        }
    }
}
