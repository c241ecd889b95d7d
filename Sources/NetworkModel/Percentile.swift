/// Nearest-rank percentiles: the smallest value with at least p % of the
/// values at or below it. The same definition as PostgreSQL's
/// `percentile_disc`, so figures computed here and in SQL agree.
package enum Percentile {
    /// `p` in 0...100 of `sorted` (ascending); nil when empty.
    package static func of<T: Comparable>(_ p: Double, sorted: [T]) -> T? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count) / 100).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
