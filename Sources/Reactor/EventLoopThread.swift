import Glibc

/// A joinable POSIX thread running one closure: an event loop's `run()`.
/// Foundation's Thread cannot be joined; shutdown must wait for every loop.
package final class EventLoopThread {
    private var thread = pthread_t()
    private var isJoined = false

    package init(_ body: @escaping () -> Void) throws {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let status: Int32 = pthread_create(&thread, nil, { argument in
            if let argument { Unmanaged<Box>.fromOpaque(argument).takeRetainedValue().body() }
            return nil
        }, box)
        guard status == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw UVError(-status)
        }
    }

    /// Waits until the closure has returned. Once only.
    package func join() {
        guard !isJoined else { return }
        isJoined = true
        pthread_join(thread, nil)
    }

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}
