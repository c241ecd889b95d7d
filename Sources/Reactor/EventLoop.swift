import CLibUV

package final class EventLoop {
    let raw: UnsafeMutablePointer<uv_loop_t>

    /// One read buffer shared by every stream of the loop. Reads are handled
    /// synchronously inside the read callback, so an idle socket owns no
    /// buffer at all; a connection copies out only the bytes it must keep.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// The bytes all sockets may read in one iteration (see ReadTurns).
    let readTurns: ReadTurns
    /// Pending `LoopTimer.once` timers, held here until they fire.
    var oneShotTimers: [ObjectIdentifier: LoopTimer] = [:]

    /// `readBytesPerTurn`: 4 MiB is 10-20 ms of the server's work on
    /// telemetry, so timers and other sockets wait at most about that long
    /// behind a burst, while each turn still amortises the loop's overhead.
    package init(readBytesPerTurn: Int = 4 << 20) {
        raw = .allocate(capacity: 1)
        uv_loop_init(raw)
        readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        readTurns = ReadTurns(loop: raw, budget: readBytesPerTurn)
    }

    /// Every handle wrapper holds its loop, so this runs only after each of
    /// them has called uv_close: otherwise uv_loop_close fails (EBUSY), the
    /// loop's own allocations leak, and a later uv_close writes into the
    /// freed loop, which ASan cannot see because libuv is not instrumented.
    deinit {
        oneShotTimers.removeAll() // closes them before the loop, not after
        readTurns.close()
        // Let pending close callbacks run so their memory is freed.
        uv_run(raw, UV_RUN_NOWAIT)
        uv_loop_close(raw)
        raw.deallocate()
        readBuffer.deallocate()
    }

    /// Runs until no handle is active or `stop()` is called.
    package func run() {
        uv_run(raw, UV_RUN_DEFAULT)
    }

    /// Runs one iteration; used by tests that drive a loop step by step.
    @discardableResult
    package func runOnce(wait: Bool = true) -> Bool {
        uv_run(raw, wait ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0
    }

    package func stop() {
        uv_stop(raw)
    }

    /// The loop's cached clock in milliseconds (monotonic, updated per tick).
    package var nowMilliseconds: UInt64 {
        uv_now(raw)
    }

    /// A fresh monotonic reading in nanoseconds.
    package static var monotonicNanoseconds: UInt64 {
        uv_hrtime()
    }
}

/// A libuv error code turned into a Swift error with libuv's own message.
package struct UVError: Error, CustomStringConvertible, Equatable {
    package let code: Int32
    package init(_ code: Int32) { self.code = code }
    package var name: String { String(cString: uv_err_name(code)) }
    package var description: String { "\(name): \(String(cString: uv_strerror(code)))" }

    /// Throws for a negative libuv return value.
    static func check(_ result: Int32) throws {
        if result < 0 { throw UVError(result) }
    }
}
