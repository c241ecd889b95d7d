/// Counters of one run, updated on the loop.
package final class RunStatistics {
    package let nodesTarget: Int
    package internal(set) var nodesOpen = 0
    package internal(set) var nodesOpenPeak = 0
    /// Messages (frames) the kernel accepted, `system.connected` included.
    package internal(set) var messagesSent: UInt64 = 0
    package internal(set) var bytesSent: UInt64 = 0
    /// Messages not written because the node's socket already had more than
    /// the allowed bytes queued (the server was not keeping up).
    package internal(set) var messagesThrottled: UInt64 = 0
    /// Messages that may not have arrived because their connection ended
    /// early (dropped, or given up on at the close timeout): not taken by
    /// the kernel, or taken and not acknowledged by the server's TCP. The
    /// server may or may not have them.
    package internal(set) var messagesUnconfirmed: UInt64 = 0
    /// Nodes given up on at the close timeout, and their messages that may
    /// not have arrived: never taken by the kernel (not counted as sent),
    /// and taken by it (counted as sent) but not acknowledged by the
    /// server's TCP.
    package internal(set) var nodesAborted = 0
    package internal(set) var abortedNotSent: UInt64 = 0
    package internal(set) var abortedUnacknowledged: UInt64 = 0
    /// The closing nodes were given up on by a second Ctrl-C, not the timeout.
    package internal(set) var abortInterrupted = false
    /// Connections re-opened after a drop.
    package internal(set) var reconnects = 0
    package internal(set) var pingsAnswered = 0
    package internal(set) var errors: [String: Int] = [:]
    /// The most a write went out after the time it was for: with the
    /// realistic profile its event's due time (the tick's granularity plus
    /// how late the loop ran), with `--rate R` the time of the tick that
    /// counted it. Not measured with `--rate max`.
    package internal(set) var lateMaxMs: UInt64 = 0
    /// Loop-clock milliseconds when the run started, when the last write
    /// completed, and when the last node had closed.
    package internal(set) var startedMs: UInt64 = 0
    package internal(set) var lastWriteMs: UInt64 = 0
    package internal(set) var stoppedMs: UInt64 = 0
    /// Loop-clock milliseconds when sending ended (the duration, Ctrl-C, or
    /// the last node's last message).
    package internal(set) var sendingStoppedMs: UInt64 = 0

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

    func nodeAborted(notSent: UInt64, unacknowledged: UInt64) {
        nodesAborted += 1
        abortedNotSent += notSent
        abortedUnacknowledged += unacknowledged
    }

    /// Seconds from the end of sending until the last node had closed.
    package var closeSeconds: Double {
        Double(stoppedMs &- min(sendingStoppedMs, stoppedMs)) / 1000
    }

    /// Seconds of sending: from the start to the last completed write
    /// (closing handshakes, which wait for the server to read what its
    /// socket buffers hold, are not counted).
    package var seconds: Double {
        Double((lastWriteMs > 0 ? lastWriteMs : stoppedMs) &- startedMs) / 1000
    }
}
