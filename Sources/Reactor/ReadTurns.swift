import CLibUV

/// Shares each loop iteration's reading among sockets. Once the streams of
/// a loop have read `budget` bytes in one iteration, the stream that
/// crossed it stops reading until the next iteration, after the loop has
/// run its timers and served its other sockets (an accept, a /metrics
/// scrape, a health probe). A burst from thousands of nodes then takes
/// several short iterations instead of one long one, and nothing is lost:
/// the kernel buffers meanwhile, as with any paused socket.
final class ReadTurns {
    private let uv = UVHandle<uv_check_t>()
    private let budget: Int
    private var left: Int
    private var waiting: [TCPStream] = []
    private var isClosed = false

    init(loop: UnsafeMutablePointer<uv_loop_t>, budget: Int) {
        self.budget = budget
        left = budget
        uv_check_init(loop, uv.pointer)
        uv.attach(self)
        // A check handle runs right after each iteration's I/O callbacks.
        uv_check_start(uv.pointer) { handle in
            let base = UnsafeMutableRawPointer(handle)?.assumingMemoryBound(to: uv_handle_t.self)
            UVHandle<uv_check_t>.owner(of: base, as: ReadTurns.self)?.nextTurn()
        }
        uv_unref(uv.handle) // it never keeps the loop alive by itself
    }

    var isSpent: Bool { left <= 0 }

    /// Counts `bytes` just read; false once this iteration's budget is spent.
    func spend(_ bytes: Int) -> Bool {
        left -= bytes
        return left > 0
    }

    /// `stream` stopped reading for this iteration; it resumes in the next.
    func yield(_ stream: TCPStream) {
        waiting.append(stream)
    }

    /// Once only (the handle's memory is freed by libuv's close callback).
    func close() {
        guard !isClosed else { return }
        isClosed = true
        waiting = []
        uv.close()
    }

    private func nextTurn() {
        left = budget
        guard !waiting.isEmpty else { return }
        let resuming = waiting
        waiting = []
        for stream in resuming { stream.turnCame() }
    }
}
