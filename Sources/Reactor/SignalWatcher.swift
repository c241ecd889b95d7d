import CLibUV

/// Delivers a Unix signal (SIGINT, SIGTERM) on the loop instead of in a
/// signal handler.
package final class SignalWatcher {
    private let uv = UVHandle<uv_signal_t>()
    /// Held so the loop outlives the handle (see EventLoop).
    private let loop: EventLoop
    private let callback: (Int32) -> Void

    package init(loop: EventLoop, signal: Int32, _ callback: @escaping (Int32) -> Void) throws {
        self.callback = callback
        self.loop = loop
        uv_signal_init(loop.raw, uv.pointer)
        uv.attach(self)
        try UVError.check(uv_signal_start(uv.pointer, { handle, signum in
            let base = UnsafeMutableRawPointer(handle)?.assumingMemoryBound(to: uv_handle_t.self)
            UVHandle<uv_signal_t>.owner(of: base, as: SignalWatcher.self)?.callback(signum)
        }, signal))
        // A signal watcher alone must not keep the loop alive.
        uv_unref(uv.handle)
    }

    deinit { uv.close() }
}
