/// Counters of one run, updated on the loop.
public final class RunStatistics {
    public let nodesTarget: Int
    public internal(set) var nodesOpen = 0
    public internal(set) var nodesOpenPeak = 0
    /// Messages (frames) the kernel accepted, `system.connected` included.
    public internal(set) var messagesSent: UInt64 = 0
    public internal(set) var bytesSent: UInt64 = 0
    /// Messages not written because the node's socket already had more than
    /// the allowed bytes queued (the server was not keeping up).
    public internal(set) var messagesThrottled: UInt64 = 0
    /// Messages whose write failed because the connection broke; the
    /// server may or may not have them.
    public internal(set) var messagesUnconfirmed: UInt64 = 0
    /// Connections re-opened after a drop.
    public internal(set) var reconnects = 0
    public internal(set) var pingsAnswered = 0
    public internal(set) var errors: [String: Int] = [:]
    /// The most a write went out after the time it was for: with the
    /// realistic profile its event's due time (the tick's granularity plus
    /// how late the loop ran), with `--rate R` the time of the tick that
    /// counted it. Not measured with `--rate max`.
    public internal(set) var lateMaxMs: UInt64 = 0
    /// Loop-clock milliseconds when the run started, when the last write
    /// completed, and when the last node had closed.
    public internal(set) var startedMs: UInt64 = 0
    public internal(set) var lastWriteMs: UInt64 = 0
    public internal(set) var stoppedMs: UInt64 = 0

    init(nodesTarget: Int) {
        self.nodesTarget = nodesTarget
    }

    func count(error kind: String) {
        errors[kind, default: 0] += 1
    }

    var errorCount: Int {
        errors.values.reduce(0, +)
    }

    func nodeOpened() {
        nodesOpen += 1
        nodesOpenPeak = max(nodesOpenPeak, nodesOpen)
    }

    func nodeClosed() {
        nodesOpen -= 1
    }

    /// Seconds of sending: from the start to the last completed write
    /// (closing handshakes, which wait for the server to read what its
    /// socket buffers hold, are not counted).
    public var seconds: Double {
        Double((lastWriteMs > 0 ? lastWriteMs : stoppedMs) &- startedMs) / 1000
    }
}
