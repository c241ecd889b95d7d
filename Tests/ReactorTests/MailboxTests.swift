import Foundation
@testable import Reactor
@testable import TestSupport
import XCTest

/// What the posted jobs saw. Only the loop's thread touches it (the jobs
/// run there, and the test reads it from there), which the compiler cannot
/// know.
private final class Observations: @unchecked Sendable {
    var seen: [Int] = []
    var onLoopThread = true
    var ran = 0
}

/// Jobs posted from other threads run on the loop's thread, in order;
/// closing runs what is queued and refuses the rest.
final class MailboxTests: XCTestCase {
    func testJobsPostedFromAnotherThreadRunOnTheLoopInOrder() throws {
        let loop = EventLoop()
        let mailbox = Mailbox(loop: loop)
        let observed = Observations()
        let loopThread = pthread_self()
        let poster = try EventLoopThread {
            for value in 0..<100 {
                mailbox.post {
                    observed.onLoopThread = observed.onLoopThread && pthread_equal(pthread_self(), loopThread) != 0
                    observed.seen.append(value)
                }
            }
        }
        LoopRunner.run(loop, timeout: 60) { observed.seen.count == 100 }
        poster.join()
        XCTAssertEqual(observed.seen, Array(0..<100))
        XCTAssertTrue(observed.onLoopThread)
        mailbox.close()
        loop.runOnce(wait: false)
    }

    func testCloseRunsQueuedJobsThenRefusesPosts() {
        let loop = EventLoop()
        let mailbox = Mailbox(loop: loop)
        let observed = Observations()
        XCTAssertTrue(mailbox.post { observed.ran += 1 })
        mailbox.close()
        XCTAssertEqual(observed.ran, 1, "a poster may be waiting for its answer")
        XCTAssertFalse(mailbox.post { observed.ran += 1 })
        loop.runOnce(wait: false)
        XCTAssertEqual(observed.ran, 1)
    }
}
