/// Client addresses refused for a while after a connection from them went
/// over the data rate limit. An address that offends again while blocked
/// or soon after gets twice the previous time (up to an hour), so a node
/// that reconnects in a loop is slowed down more and more.
struct AddressBlocklist {
    private struct Entry {
        var untilMs: UInt64
        var lastBlockMs: UInt64
    }

    private let baseMs: UInt64
    private var entries: [String: Entry] = [:]
    private static let longestMs: UInt64 = 3_600_000

    init(blockSeconds: Int) {
        baseMs = UInt64(blockSeconds) * 1000
    }

    func isBlocked(_ host: String, nowMs: UInt64) -> Bool {
        guard let entry = entries[host] else { return false }
        return nowMs < entry.untilMs
    }

    /// Blocks `host` and returns for how many milliseconds.
    @discardableResult
    mutating func block(_ host: String, nowMs: UInt64) -> UInt64 {
        var duration = baseMs
        if let previous = entries[host], nowMs < previous.untilMs &+ previous.lastBlockMs {
            // Offending again within one block time of the last block's end.
            duration = min(previous.lastBlockMs * 2, Self.longestMs)
        }
        entries[host] = Entry(untilMs: nowMs &+ duration, lastBlockMs: duration)
        return duration
    }

    /// Forgets addresses whose block (and escalation window) is over, so
    /// the list cannot grow without bound.
    mutating func expire(nowMs: UInt64) {
        entries = entries.filter { nowMs < $0.value.untilMs &+ $0.value.lastBlockMs }
    }
}
