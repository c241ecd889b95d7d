@testable import Reactor
@testable import TestSupport
import XCTest
@testable import Reactor

/// Timers let go of what their callbacks capture once those can no longer
/// run, so an owner that a callback captures is not kept alive by its timer
/// (LeakSanitizer found such cycles at process exit).
final class LoopTimerTests: XCTestCase {
    private final class Owner {}

    func testOneShotReleasesItsCallbackAfterFiring() {
        let loop = EventLoop()
        let timer = LoopTimer(loop: loop)
        weak var released: Owner?
        var fired = 0
        do {
            let owner = Owner()
            released = owner
            timer.start(after: 1) { withExtendedLifetime(owner) { fired += 1 } }
        }
        XCTAssertNotNil(released)
        while fired == 0 { loop.runOnce() }
        XCTAssertEqual(fired, 1)
        XCTAssertNil(released, "a fired one-shot still holds its callback")
    }

    func testStopReleasesARepeatingCallback() {
        let loop = EventLoop()
        let timer = LoopTimer(loop: loop)
        weak var released: Owner?
        do {
            let owner = Owner()
            released = owner
            timer.start(after: 1, repeat: 1) { withExtendedLifetime(owner) {} }
        }
        loop.runOnce()
        XCTAssertNotNil(released, "a repeating timer keeps its callback while it runs")
        timer.stop()
        XCTAssertNil(released)
        XCTAssertFalse(timer.isActive)
    }

    func testOnceRunsItsCallbackOnceAndForgetsIt() {
        let loop = EventLoop()
        weak var released: Owner?
        var fired = 0
        do {
            let owner = Owner()
            released = owner
            LoopTimer.once(on: loop, after: 1) { withExtendedLifetime(owner) { fired += 1 } }
        }
        XCTAssertEqual(loop.oneShotTimers.count, 1)
        loop.run() // returns once nothing is left to do
        XCTAssertEqual(fired, 1)
        XCTAssertTrue(loop.oneShotTimers.isEmpty)
        XCTAssertNil(released)
    }

    func testPendingOnceGoesWithItsLoopWithoutRunning() {
        weak var released: Owner?
        weak var releasedLoop: EventLoop?
        var fired = 0
        do {
            let loop = EventLoop()
            releasedLoop = loop
            let owner = Owner()
            released = owner
            LoopTimer.once(on: loop, after: 60_000) { withExtendedLifetime(owner) { fired += 1 } }
        }
        XCTAssertNil(releasedLoop, "a pending one-shot kept its loop alive")
        XCTAssertNil(released)
        XCTAssertEqual(fired, 0)
    }
}
