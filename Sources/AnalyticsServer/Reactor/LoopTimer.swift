import CLibUV

/// A one-shot or repeating timer on an event loop.
public final class LoopTimer {
    private let uv = UVHandle<uv_timer_t>()
    /// Held so the loop outlives the handle (see EventLoop).
    private let loop: EventLoop
    private var callback: (() -> Void)?

    public init(loop: EventLoop) {
        self.loop = loop
        uv_timer_init(loop.raw, uv.pointer)
        uv.attach(self)
    }

    deinit { uv.close() }

    /// Fires after `milliseconds`, then every `repeat` ms if non-zero.
    /// Starting a started timer re-arms it.
    public func start(after milliseconds: UInt64, repeat: UInt64 = 0, _ callback: @escaping () -> Void) {
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

    /// Fires `callback` once after `milliseconds`; the timer keeps itself
    /// alive until then and is released right after.
    public static func once(on loop: EventLoop, after milliseconds: UInt64, _ callback: @escaping () -> Void) {
        var timer: LoopTimer? = LoopTimer(loop: loop)
        timer?.start(after: milliseconds) {
            callback()
            timer = nil
        }
    }

    public func stop() {
        uv_timer_stop(uv.pointer)
        callback = nil
    }

    public var isActive: Bool {
        uv_is_active(uv.handle) != 0
    }

    /// Keeps the loop from exiting only while some other handle is active.
    public func unref() {
        uv_unref(uv.handle)
    }
}
