@testable import Reactor
import Foundation
@testable import TestSupport
import XCTest
@testable import Reactor

/// Jobs posted from other threads run on the loop's thread, in order;
/// closing runs what is queued and refuses the rest.
final class MailboxTests: XCTestCase {
    func testJobsPostedFromAnotherThreadRunOnTheLoopInOrder() throws {
        let loop = EventLoop()
        let mailbox = Mailbox(loop: loop)
        var seen: [Int] = []
        var onLoopThread = true
        let loopThread = pthread_self()
        let poster = try EventLoopThread {
            for value in 0..<100 {
                mailbox.post {
                    onLoopThread = onLoopThread && pthread_equal(pthread_self(), loopThread) != 0
                    seen.append(value)
                }
            }
        }
        LoopRunner.run(loop, timeout: 60) { seen.count == 100 }
        poster.join()
        XCTAssertEqual(seen, Array(0..<100))
        XCTAssertTrue(onLoopThread)
        mailbox.close()
        loop.runOnce(wait: false)
    }

    func testCloseRunsQueuedJobsThenRefusesPosts() {
        let loop = EventLoop()
        let mailbox = Mailbox(loop: loop)
        var ran = 0
        XCTAssertTrue(mailbox.post { ran += 1 })
        mailbox.close()
        XCTAssertEqual(ran, 1, "a poster may be waiting for its answer")
        XCTAssertFalse(mailbox.post { ran += 1 })
        loop.runOnce(wait: false)
        XCTAssertEqual(ran, 1)
    }
}
