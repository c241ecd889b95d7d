/// Accounts every byte of telemetry held in memory until PostgreSQL has
/// committed it, and turns node reading off above the limit and back on
/// once the backlog has drained to three quarters of it. Nothing is ever
/// dropped to stay under the limit: readers are slowed down instead.
final class BufferBudget {
    let limit: Int
    private(set) var bytes = 0
    private(set) var isOverLimit = false
    /// Called with true when reading must pause, false when it may resume.
    var onPressureChange: ((Bool) -> Void)?

    init(limit: Int) {
        self.limit = limit
    }

    func add(_ count: Int) {
        bytes += count
        if !isOverLimit, bytes > limit {
            isOverLimit = true
            onPressureChange?(true)
        }
    }

    func remove(_ count: Int) {
        bytes -= count
        if isOverLimit, bytes <= limit / 4 * 3 {
            isOverLimit = false
            onPressureChange?(false)
        }
    }
}
