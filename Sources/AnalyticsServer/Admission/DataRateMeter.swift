/// Bytes a connection sent over the last few seconds, kept as one counter
/// per second in a small ring, so the average covers a rolling window and a
/// burst is forgiven once it has left the window.
struct DataRateMeter {
    private var buckets: [Int]
    private var currentSecond: UInt64 = 0
    private var sum = 0

    init(windowSeconds: Int) {
        buckets = Array(repeating: 0, count: max(1, windowSeconds))
    }

    /// Adds `bytes` at `nowMs` and returns the average bytes per second
    /// over the window.
    mutating func add(_ bytes: Int, nowMs: UInt64) -> Int {
        let second = nowMs / 1000
        if second != currentSecond {
            // Clear the buckets of the seconds that passed without data.
            let passed = min(second &- currentSecond, UInt64(buckets.count))
            for step in 1...passed {
                let index = Int((currentSecond &+ step) % UInt64(buckets.count))
                sum -= buckets[index]
                buckets[index] = 0
            }
            currentSecond = second
        }
        buckets[Int(second % UInt64(buckets.count))] += bytes
        sum += bytes
        return sum / buckets.count
    }
}
