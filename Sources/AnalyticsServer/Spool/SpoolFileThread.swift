import Foundation
import Reactor

/// A thread of its own that runs a spool's file work in order and posts
/// each answer back to the loop through a mailbox.
///
/// Why a dedicated thread and not libuv's fs requests: every spooled batch
/// is a write followed by an fdatasync, and reads must see the writes queued
/// before them. One thread gives that order for free, where fs requests on
/// libuv's shared pool (4 threads, also used by getaddrinfo) would each need
/// chaining by hand, and a slow disk would hold pool threads others need.
/// The thread only touches its SpoolDirectory and the jobs' own values.
final class SpoolFileThread {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false
    private let mailbox: Mailbox

    /// Call on the loop's thread.
    init(loop: EventLoop, name: String) {
        mailbox = Mailbox(loop: loop)
        // The thread holds the object until `stop()` lets it end.
        let thread = Thread { [condition, self] in self.run(condition) }
        thread.name = name
        thread.start()
    }

    /// Runs `work` on the file thread, then `answer` with its result on the loop.
    func perform<Result>(_ work: @escaping () -> Result, answer: @escaping (Result) -> Void) {
        condition.lock()
        jobs.append { [mailbox] in
            let result = work()
            // A closed mailbox (the loop is stopping) drops the answer: what
            // it reported is on disk, and the next start reads the disk.
            mailbox.post { answer(result) }
        }
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread end once the queued jobs are done.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func run(_ condition: NSCondition) {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs = []
            condition.unlock()
            batch.forEach { $0() }
        }
    }
}
