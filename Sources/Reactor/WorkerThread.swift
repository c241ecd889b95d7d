/// A thread of its own that runs posted jobs one after another, for work
/// too long for an event loop (building a 25 MB node list). It is a libuv
/// loop with nothing but a mailbox, so it sleeps until a job is posted and
/// needs no lock besides the mailbox's. Results go back the same way: the
/// job posts them to the caller's loop through that loop's `Mailbox`.
///
/// Use it from one thread (the owner's loop): `post`, then `stop` once.
package final class WorkerThread {
    private let loop: EventLoop
    private let mailbox: Mailbox
    private var thread: EventLoopThread?

    package init() throws {
        let loop = EventLoop()
        // Keeps the loop running while it has no job: it ends only when the
        // mailbox is closed (`stop`).
        mailbox = Mailbox(loop: loop, keepsLoopAlive: true)
        self.loop = loop
        thread = try EventLoopThread { loop.run() }
    }

    deinit { stop() }

    /// Queues `job` for the worker's thread; false once stopped.
    @discardableResult
    package func post(_ job: @escaping @Sendable () -> Void) -> Bool {
        thread != nil && mailbox.post(job)
    }

    /// Runs the jobs already posted, ends the thread and waits for it.
    package func stop() {
        guard let thread else { return }
        self.thread = nil
        // Closing the mailbox on its own thread releases the loop's last handle.
        let mailbox = self.mailbox
        mailbox.post { mailbox.close() }
        thread.join()
    }
}
