import CLibUV
import Glibc

/// A listening TCP socket that hands each accepted connection to a callback.
package final class TCPListener {
    private let uv = UVHandle<uv_tcp_t>()
    private let loop: EventLoop
    private var onAccept: ((TCPStream) -> Void)?
    private var isClosed = false
    package private(set) var port: Int = 0

    /// Binds host:port (port 0 picks a free port, see `port`) and listens
    /// with the given backlog. With `reusePort`, several listeners (one per
    /// event loop) bind the same port and the kernel spreads incoming
    /// connections over them (SO_REUSEPORT; all must set it).
    package init(loop: EventLoop, host: String, port: Int, backlog: Int32, reusePort: Bool = false,
                onAccept: @escaping (TCPStream) -> Void) throws {
        self.loop = loop
        self.onAccept = onAccept
        uv_tcp_init(loop.raw, uv.pointer)
        uv.attach(self)
        do {
            // libuv 1.44 has no UV_TCP_REUSEPORT: the socket is made and bound
            // here, then handed to libuv.
            let fd = try TCPListener.boundSocket(host: host, port: port, reusePort: reusePort)
            let opened = uv_tcp_open(uv.pointer, uv_os_sock_t(fd))
            if opened < 0 { Glibc.close(fd) }
            try UVError.check(opened)
        } catch {
            close()
            throw error
        }
        let stream = UnsafeMutableRawPointer(uv.pointer).assumingMemoryBound(to: uv_stream_t.self)
        try UVError.check(uv_listen(stream, backlog) { server, status in
            let base = UnsafeMutableRawPointer(server)?.assumingMemoryBound(to: uv_handle_t.self)
            guard status >= 0, let listener = UVHandle<uv_tcp_t>.owner(of: base, as: TCPListener.self) else { return }
            listener.acceptOne()
        })
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(uv.pointer, $0, &length) }
        }
        self.port = SocketAddress(storage)?.port ?? port
    }

    /// A bound, not yet listening, TCP socket for an IPv4 or IPv6 `host`.
    private static func boundSocket(host: String, port: Int, reusePort: Bool) throws -> Int32 {
        var address = sockaddr_storage()
        let length: Int
        if withUnsafeMutablePointer(to: &address, {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) }
        }) == 0 {
            length = MemoryLayout<sockaddr_in>.size
        } else {
            try withUnsafeMutablePointer(to: &address) {
                try $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { try UVError.check(uv_ip6_addr(host, Int32(port), $0)) }
            }
            length = MemoryLayout<sockaddr_in6>.size
        }
        let fd = socket(Int32(address.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw UVError(-errno) }
        var on: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        // SO_REUSEADDR as libuv sets it: a restart binds while old
        // connections linger in TIME_WAIT.
        var status = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, size)
        if status == 0 && reusePort { status = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, size) }
        if status == 0 {
            status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
            }
        }
        guard status == 0 else {
            let error = UVError(-errno)
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    deinit { close() }

    private func acceptOne() {
        let client = TCPStream(loop: loop)
        let server = UnsafeMutableRawPointer(uv.pointer).assumingMemoryBound(to: uv_stream_t.self)
        guard uv_accept(server, client.streamPointer) == 0 else {
            client.close()
            return
        }
        client.setNoDelay(true)
        onAccept?(client)
    }

    /// Stops accepting; connections already accepted are not affected.
    /// Once only: after libuv's close callback the handle's memory is gone,
    /// so a second close (deinit after an explicit one) must not touch it.
    package func close() {
        guard !isClosed else { return }
        isClosed = true
        onAccept = nil
        uv.close()
    }
}
