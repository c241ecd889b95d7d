import CLibUV

/// A one-shot or repeating timer on an event loop.
package final class LoopTimer {
    private let uv = UVHandle<uv_timer_t>()
    /// Held so the loop outlives the handle (see EventLoop); nil for the
    /// loop's own one-shot timers, which the loop holds instead.
    private let loop: EventLoop?
    private var callback: (() -> Void)?

    package convenience init(loop: EventLoop) {
        self.init(loop: loop, retainingLoop: true)
    }

    private init(loop: EventLoop, retainingLoop: Bool) {
        self.loop = retainingLoop ? loop : nil
        uv_timer_init(loop.raw, uv.pointer)
        uv.attach(self)
    }

    deinit { uv.close() }

    /// Fires after `milliseconds`, then every `repeat` ms if non-zero.
    /// Starting a started timer re-arms it.
    package func start(after milliseconds: UInt64, repeat: UInt64 = 0, _ callback: @escaping () -> Void) {
        self.callback = callback
        uv_timer_start(uv.pointer, { timer in
            let handle = UnsafeMutableRawPointer(timer)?.assumingMemoryBound(to: uv_handle_t.self)
            UVHandle<uv_timer_t>.owner(of: handle, as: LoopTimer.self)?.fire()
        }, milliseconds, `repeat`)
    }

    /// A timer holds its callback only while it may still fire: after a
    /// one-shot has fired, or after `stop()`, it lets go, so a callback that
    /// captures the timer's owner does not keep both alive forever.
    private func fire() {
        guard let callback else { return }
        if uv_timer_get_repeat(uv.pointer) == 0 { self.callback = nil }
        callback()
    }

    /// Fires `callback` once after `milliseconds`. The loop holds the timer
    /// until then (not the timer itself, through its callback: a timer
    /// still pending when the process ends would then leak with its loop);
    /// a loop that goes away first closes it, and `callback` never runs.
    package static func once(on loop: EventLoop, after milliseconds: UInt64, _ callback: @escaping () -> Void) {
        let timer = LoopTimer(loop: loop, retainingLoop: false)
        let key = ObjectIdentifier(timer)
        loop.oneShotTimers[key] = timer
        timer.start(after: milliseconds) { [unowned loop] in
            // Alive until the callback returns, released right after.
            withExtendedLifetime(loop.oneShotTimers.removeValue(forKey: key)) { callback() }
        }
    }

    package func stop() {
        uv_timer_stop(uv.pointer)
        callback = nil
    }

    package var isActive: Bool {
        uv_is_active(uv.handle) != 0
    }

    /// Keeps the loop from exiting only while some other handle is active.
    package func unref() {
        uv_unref(uv.handle)
    }
}
