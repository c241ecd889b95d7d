import CLibUV
import Synchronization

/// Runs closures on a loop's thread, posted from any thread: a locked queue
/// and a uv_async_t that wakes the loop. libuv coalesces wake-ups, so one
/// callback drains whatever was posted meanwhile.
///
/// Used for the rare cross-loop work of a multi-loop server (start-up,
/// shutdown, a /metrics scrape, a purge pass), never per message.
/// `@unchecked Sendable`: `post` is the only member called off the loop's
/// thread, and it touches nothing but the mutex and `uv_async_send` (which
/// libuv documents as thread-safe).
package final class Mailbox: @unchecked Sendable {
    private struct Queue {
        var jobs: [@Sendable () -> Void] = []
        var isClosed = false
    }

    private let uv = UVHandle<uv_async_t>()
    private let queue = Mutex(Queue())

    /// Call on the loop's thread, or before the loop runs on another one.
    /// `keepsLoopAlive`: the loop does not end on its own while the mailbox
    /// is open (a loop waiting for others to report must not run dry).
    package init(loop: EventLoop, keepsLoopAlive: Bool = false) {
        uv_async_init(loop.raw, uv.pointer) { handle in
            let base = UnsafeMutableRawPointer(handle)?.assumingMemoryBound(to: uv_handle_t.self)
            UVHandle<uv_async_t>.owner(of: base, as: Mailbox.self)?.runPosted()
        }
        uv.attach(self)
        if !keepsLoopAlive { uv_unref(uv.handle) }
    }

    deinit { close() }

    /// Queues `job` for the loop's thread; false once the mailbox is closed
    /// (the loop is stopping), and `job` is then dropped.
    @discardableResult
    package func post(_ job: @escaping @Sendable () -> Void) -> Bool {
        queue.withLock { queue in
            guard !queue.isClosed else { return false }
            queue.jobs.append(job)
            // Under the lock: `close` cannot free the handle in between.
            uv_async_send(uv.pointer)
            return true
        }
    }

    /// On the loop's thread: refuses further posts, runs the jobs already
    /// queued (a poster may be waiting for their answer) and closes the handle.
    package func close() {
        let (wasOpen, jobs) = queue.withLock { queue in
            defer { queue.isClosed = true; queue.jobs = [] }
            return (!queue.isClosed, queue.jobs)
        }
        guard wasOpen else { return }
        uv.close()
        for job in jobs { job() }
    }

    private func runPosted() {
        let jobs = queue.withLock { queue in
            defer { queue.jobs = [] }
            return queue.jobs
        }
        for job in jobs { job() }
    }
}
