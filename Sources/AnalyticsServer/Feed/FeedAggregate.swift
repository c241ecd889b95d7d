/// The statistics a subscription may ask for instead of the messages.
enum FeedAggregateType: String, CaseIterable {
    case mean, median, min, max, percentile90

    /// The statistic of `values` (not empty).
    func value(of values: [Double]) -> Double {
        switch self {
        case .mean: return values.reduce(0, +) / Double(values.count)
        case .min: return values.min() ?? 0
        case .max: return values.max() ?? 0
        case .median:
            let sorted = values.sorted()
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        case .percentile90:
            // Nearest rank: the smallest value with at least 90% of the
            // values at or below it; no interpolation, so it is a value
            // that was measured.
            let sorted = values.sorted()
            let rank = Int((0.9 * Double(sorted.count)).rounded(.up))
            return sorted[Swift.max(rank, 1) - 1]
        }
    }
}

/// One aggregate subscription: groups the numeric `time` of messages per
/// (target, name) and per interval of `intervalUs` (aligned on the Unix
/// epoch), and hands out each interval once it is complete.
///
/// An interval is complete when the cache has seen a message at or after
/// its end: the node's own clock decides, not the server's, so a node whose
/// clock is off still gets whole intervals. A message arriving after its
/// interval was sent is not counted (it would change a value already sent).
struct FeedAggregator {
    private struct Group: Hashable {
        let target: String
        let name: String
    }

    let type: FeedAggregateType
    let intervalUs: Int64
    let startUs: Int64
    /// Interval start → group → values.
    private var open: [Int64: [Group: [Double]]] = [:]
    /// Intervals before this one have been sent.
    private var sentThroughUs = Int64.min

    init(type: FeedAggregateType, intervalSeconds: Int, startUs: Int64) {
        self.type = type
        intervalUs = Int64(intervalSeconds) * 1_000_000
        self.startUs = startUs
    }

    mutating func add<Rows: Sequence>(_ rows: Rows) where Rows.Element == FeedRow {
        for row in rows where row.createdAtUs > startUs {
            guard let time = row.time else { continue }
            let interval = intervalStart(of: row.createdAtUs)
            guard interval >= sentThroughUs else { continue }
            open[interval, default: [:]][Group(target: row.target ?? "", name: row.name ?? ""), default: []].append(time)
        }
    }

    /// The feed items of the intervals that end at or before `newestUs`,
    /// oldest first, each group sorted by target then name.
    mutating func completed(newestUs: Int64) -> [String] {
        let done = open.keys.filter { $0 + intervalUs <= newestUs }.sorted()
        guard let last = done.last else { return [] }
        var items: [String] = []
        for interval in done {
            guard let groups = open.removeValue(forKey: interval) else { continue }
            let createdAt = FeedTime.format(interval)
            for group in groups.keys.sorted(by: { ($0.target, $0.name) < ($1.target, $1.name) }) {
                guard let values = groups[group], !values.isEmpty else { continue }
                items.append("{\"time\":\(FeedJSON.number(type.value(of: values))),\"name\":\(FeedJSON.string(group.name)),"
                    + "\"target\":\(FeedJSON.string(group.target)),\"values\":\"\",\"created_at\":\(FeedJSON.string(createdAt))}")
            }
        }
        sentThroughUs = Swift.max(sentThroughUs, last + intervalUs)
        return items
    }

    private func intervalStart(of us: Int64) -> Int64 {
        // Floor division: timestamps before 1970 are negative.
        let remainder = us % intervalUs
        return us - (remainder < 0 ? remainder + intervalUs : remainder)
    }
}
