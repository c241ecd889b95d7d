import Reactor
import WebServer

/// Bounds the API's database work on one event loop, so that a flood of
/// queries costs the loop and PostgreSQL a fixed amount and the rest is
/// refused fast instead of piling up (docs/reliability.md#api-overload).
///
/// At most `maxRunning` requests hold a slot at once: from sending their
/// first statement until they respond (a request of several statements, or
/// one whose answer is built on the loop, keeps its slot throughout). Up to
/// `maxQueued` more wait for a slot in arrival order. A request that finds
/// the queue full, or waits longer than `queueTimeoutMs`, is answered 503
/// with `Retry-After` at once and never reaches PostgreSQL.
///
/// Other users of the query pool (feed, network view, purger) do not pass
/// through here: they are bounded by their own timers, and with at most one
/// API statement per connection they never wait behind a queue of them.
final class APIQueryGate {
    struct Limits {
        /// Requests with a statement at PostgreSQL at once.
        let maxRunning: Int
        /// Requests waiting for a slot (API_MAX_QUEUED_REQUESTS).
        let maxQueued: Int
        /// Longest wait for a slot, in ms (API_QUEUE_TIMEOUT_MS).
        let queueTimeoutMs: UInt64
    }

    /// Seconds a refused client is told to wait: the queue turns over in
    /// about a query's time, so one second is neither idle nor a hammer.
    static let retryAfterSeconds = 1

    final class Counters: CounterSet {
        static let queueFull = "queue_full"
        static let queueTimeout = "queue_timeout"
        var rejected = LabelledEventCounter(.init(.counter, "tetcore_api_requests_rejected_total",
                                                  help: "API requests answered 503 for overload, by reason: queue_full, queue_timeout.",
                                                  labels: ["reason"]),
                                            preset: [[queueFull], [queueTimeout]])
    }

    static let queuedFamily = MetricFamily(.gauge, "tetcore_api_queued_requests",
                                           help: "API requests waiting for a database slot now.")
    static let runningFamily = MetricFamily(.gauge, "tetcore_api_running_requests",
                                            help: "API requests holding a database slot now.")

    /// A request waiting for a slot: what to run once it has one.
    private struct Waiting {
        let arrivedMs: UInt64
        let respond: (HTTPResponse) -> Void
        let work: (@escaping (HTTPResponse) -> Void) -> Void
    }

    let counters = Counters()
    let limits: Limits
    private let loop: EventLoop
    private let waitHistogram: APIQueueWaitHistogram
    private var running = 0
    /// Oldest first from `head`; compacted when it empties or the dead
    /// prefix grows (no shifting per request).
    private var waiting: [Waiting] = []
    private var head = 0
    private let expiryTimer: LoopTimer
    private var isClosed = false

    init(loop: EventLoop, limits: Limits, waitHistogram: APIQueueWaitHistogram) {
        self.loop = loop
        self.limits = limits
        self.waitHistogram = waitHistogram
        expiryTimer = LoopTimer(loop: loop)
        // A pending expiry must not keep a stopping loop alive.
        expiryTimer.unref()
    }

    var queuedCount: Int { waiting.count - head }

    /// Runs `work` once a slot is free, handing it the `respond` it must
    /// answer through (that answer frees the slot); or answers 503 itself.
    func admit(_ respond: @escaping (HTTPResponse) -> Void,
               _ work: @escaping (_ respond: @escaping (HTTPResponse) -> Void) -> Void) {
        guard !isClosed else { return respond(.error(503, "server shutting down")) }
        if running < limits.maxRunning && queuedCount == 0 {
            return start(respond, work, waitedMs: 0)
        }
        guard queuedCount < limits.maxQueued else {
            counters.rejected.increment([Counters.queueFull])
            return respond(Self.overloaded("API request queue is full (\(limits.maxQueued) waiting)"))
        }
        waiting.append(Waiting(arrivedMs: loop.nowMilliseconds, respond: respond, work: work))
        if queuedCount == 1 { armExpiry() }
    }

    /// Answers every waiting request 503 and refuses new ones (shutdown).
    func close() {
        isClosed = true
        expiryTimer.stop()
        while let entry = popWaiting() { entry.respond(.error(503, "server shutting down")) }
    }

    func record(into readings: inout MetricReadings) {
        counters.readCounters(into: &readings)
        readings.record(Self.queuedFamily, queuedCount)
        readings.record(Self.runningFamily, running)
    }

    static func overloaded(_ message: String) -> HTTPResponse {
        .error(503, "overloaded: " + message, headers: [("Retry-After", String(retryAfterSeconds))])
    }

    private func start(_ respond: @escaping (HTTPResponse) -> Void,
                       _ work: (@escaping (HTTPResponse) -> Void) -> Void, waitedMs: UInt64) {
        running += 1
        waitHistogram.observe(waitedMs: waitedMs)
        var answered = false
        work { [weak self] response in
            // A handler answers once; a second call would free a slot twice.
            guard !answered else { return }
            answered = true
            respond(response)
            self?.finished()
        }
    }

    private func finished() {
        running -= 1
        expireOverdue()
        while running < limits.maxRunning, let entry = popWaiting() {
            start(entry.respond, entry.work, waitedMs: loop.nowMilliseconds - entry.arrivedMs)
        }
        armExpiry()
    }

    /// Answers 503 to the waiting requests past API_QUEUE_TIMEOUT_MS (the
    /// oldest are first, so they are a prefix).
    private func expireOverdue() {
        let now = loop.nowMilliseconds
        while head < waiting.count, now - waiting[head].arrivedMs >= limits.queueTimeoutMs, let entry = popWaiting() {
            counters.rejected.increment([Counters.queueTimeout])
            entry.respond(Self.overloaded("API request waited \(limits.queueTimeoutMs) ms for the database"))
        }
    }

    /// Fires when the oldest waiting request reaches its timeout, so its
    /// 503 goes out then rather than whenever a slot frees.
    private func armExpiry() {
        guard head < waiting.count else { return expiryTimer.stop() }
        let dueMs = waiting[head].arrivedMs + limits.queueTimeoutMs
        let now = loop.nowMilliseconds
        expiryTimer.start(after: dueMs > now ? dueMs - now : 0) { [weak self] in
            self?.expireOverdue()
            self?.armExpiry()
        }
    }

    private func popWaiting() -> Waiting? {
        guard head < waiting.count else { return nil }
        let entry = waiting[head]
        head += 1
        if head == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 256 {
            waiting.removeFirst(head)
            head = 0
        }
        return entry
    }
}
