import CLibUV
import Glibc

/// A listening TCP socket that hands each accepted connection to a callback.
public final class TCPListener {
    private let uv = UVHandle<uv_tcp_t>()
    private let loop: EventLoop
    private var onAccept: ((TCPStream) -> Void)?
    private var isClosed = false
    public private(set) var port: Int = 0

    /// Binds host:port (port 0 picks a free port, see `port`) and listens
    /// with the given backlog.
    public init(loop: EventLoop, host: String, port: Int, backlog: Int32,
                onAccept: @escaping (TCPStream) -> Void) throws {
        self.loop = loop
        self.onAccept = onAccept
        uv_tcp_init(loop.raw, uv.pointer)
        uv.attach(self)
        var address = sockaddr_in()
        try UVError.check(uv_ip4_addr(host, Int32(port), &address))
        try withUnsafePointer(to: &address) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try UVError.check(uv_tcp_bind(uv.pointer, $0, 0))
            }
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
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        onAccept = nil
        uv.close()
    }
}
