import Foundation
@testable import Reactor
@testable import TestSupport
import XCTest

/// Jobs posted from other threads run on the loop's thread, in order;
/// closing runs what is queued and refuses the rest.
final class MailboxTests: XCTestCase {
    func testJobsPostedFromAnotherThreadRunOnTheLoopInOrder() throws {
        let loop = EventLoop()
        let mailbox = Mailbox(loop: loop)
        let seen = LoopConfined<[Int]>([])
        let onLoopThread = LoopConfined(true)
        let loopThread = pthread_self()
        let poster = try EventLoopThread {
            for value in 0..<100 {
                mailbox.post {
                    onLoopThread.value = onLoopThread.value && pthread_equal(pthread_self(), loopThread) != 0
                    seen.value.append(value)
                }
            }
        }
        LoopRunner.run(loop, timeout: 60) { seen.value.count == 100 }
        poster.join()
        XCTAssertEqual(seen.value, Array(0..<100))
        XCTAssertTrue(onLoopThread.value)
        mailbox.close()
        loop.runOnce(wait: false)
    }

    func testCloseRunsQueuedJobsThenRefusesPosts() {
        let loop = EventLoop()
        let mailbox = Mailbox(loop: loop)
        let ran = LoopConfined(0)
        XCTAssertTrue(mailbox.post { ran.value += 1 })
        mailbox.close()
        XCTAssertEqual(ran.value, 1, "a poster may be waiting for its answer")
        XCTAssertFalse(mailbox.post { ran.value += 1 })
        loop.runOnce(wait: false)
        XCTAssertEqual(ran.value, 1)
    }
}
