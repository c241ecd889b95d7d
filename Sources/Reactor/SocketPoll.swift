import CLibUV

/// Watches a file descriptor owned by someone else (libpq's socket) for
/// readability and writability.
package final class SocketPoll {
    package struct Events: OptionSet {
        package let rawValue: Int32
        package init(rawValue: Int32) { self.rawValue = rawValue }
        package static let readable = Events(rawValue: Int32(UV_READABLE.rawValue))
        package static let writable = Events(rawValue: Int32(UV_WRITABLE.rawValue))
    }

    private let uv = UVHandle<uv_poll_t>()
    /// Held so the loop outlives the handle (see EventLoop).
    private let loop: EventLoop
    private var callback: ((_ status: Int32, _ events: Events) -> Void)?
    package let fd: Int32

    package init(loop: EventLoop, fd: Int32) throws {
        self.fd = fd
        self.loop = loop
        try UVError.check(uv_poll_init(loop.raw, uv.pointer, fd))
        uv.attach(self)
    }

    deinit { uv.close() }

    /// (Re)starts watching `events`; status < 0 reports a poll error.
    package func start(_ events: Events, _ callback: @escaping (_ status: Int32, _ events: Events) -> Void) {
        self.callback = callback
        uv_poll_start(uv.pointer, events.rawValue) { poll, status, events in
            let handle = UnsafeMutableRawPointer(poll)?.assumingMemoryBound(to: uv_handle_t.self)
            UVHandle<uv_poll_t>.owner(of: handle, as: SocketPoll.self)?
                .callback?(status, Events(rawValue: events))
        }
    }

    package func stop() {
        uv_poll_stop(uv.pointer)
    }
}
