import XCTest
import Reactor

/// Drives an event loop from a test, one iteration at a time.
enum LoopRunner {
    /// Runs `loop` until `condition` holds; fails the test after `seconds`.
    /// A repeating timer wakes the loop every 10 ms, so an iteration never
    /// blocks for long even when nothing else is active.
    @discardableResult
    static func run(_ loop: EventLoop, timeout seconds: Double = 60, file: StaticString = #filePath, line: UInt = #line,
                    until condition: () -> Bool) -> Bool {
        let tick = LoopTimer(loop: loop)
        tick.start(after: 10, repeat: 10) {}
        defer { tick.stop() }
        let deadline = EventLoop.monotonicNanoseconds + UInt64(seconds * 1_000_000_000)
        while !condition() {
            guard EventLoop.monotonicNanoseconds < deadline else {
                XCTFail("the condition did not hold within \(seconds) s", file: file, line: line)
                return false
            }
            loop.runOnce()
        }
        return true
    }

    /// Runs `loop` for `seconds` (to show that something does not happen).
    static func run(_ loop: EventLoop, for seconds: Double) {
        let tick = LoopTimer(loop: loop)
        tick.start(after: 10, repeat: 10) {}
        defer { tick.stop() }
        let deadline = EventLoop.monotonicNanoseconds + UInt64(seconds * 1_000_000_000)
        while EventLoop.monotonicNanoseconds < deadline { loop.runOnce() }
    }
}
