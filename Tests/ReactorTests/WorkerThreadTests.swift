import Foundation
@testable import Reactor
import Synchronization
@testable import TestSupport
import XCTest

/// Jobs run on the worker's own thread, in the order posted; `stop` runs
/// the jobs already posted, then joins the thread and refuses more.
final class WorkerThreadTests: XCTestCase {
    func testJobsRunInOrderOffTheCallersThreadAndAnswerThroughAMailbox() throws {
        let loop = EventLoop()
        let replies = Mailbox(loop: loop)
        let worker = try WorkerThread()
        let caller = pthread_self()
        let seen = LoopConfined<[Int]>([])
        let offCaller = LoopConfined(true)
        for value in 0..<50 {
            worker.post {
                let elsewhere = pthread_equal(pthread_self(), caller) == 0
                replies.post {
                    offCaller.value = offCaller.value && elsewhere
                    seen.value.append(value)
                }
            }
        }
        LoopRunner.run(loop, timeout: 60) { seen.value.count == 50 }
        XCTAssertEqual(seen.value, Array(0..<50))
        XCTAssertTrue(offCaller.value)
        worker.stop()
        replies.close()
        loop.runOnce(wait: false)
    }

    func testStopRunsWhatWasPostedThenRefusesJobs() throws {
        let worker = try WorkerThread()
        let ran = Mutex(0)
        for _ in 0..<20 {
            worker.post {
                usleep(1000)
                ran.withLock { $0 += 1 }
            }
        }
        worker.stop()
        XCTAssertEqual(ran.withLock { $0 }, 20, "stop waits for the queued jobs")
        XCTAssertFalse(worker.post { ran.withLock { $0 += 1 } })
        XCTAssertEqual(ran.withLock { $0 }, 20)
    }
}
