import CLibUV
import Glibc

/// Resolves a host name on libuv's thread pool (uv_getaddrinfo), so a
/// DNS lookup never blocks the loop.
package enum HostResolver {
    /// Every address of `host` as text, in the resolver's order, or the
    /// libuv error.
    package static func resolve(loop: EventLoop, host: String,
                               _ completion: @escaping (Result<[String], UVError>) -> Void) {
        let request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(Completion(completion)).toOpaque()
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        let status = uv_getaddrinfo(loop.raw, request, { request, status, result in
            guard let request else { return }
            let box = Unmanaged<Completion>.fromOpaque(request.pointee.data).takeRetainedValue()
            request.deallocate()
            defer { if let result { uv_freeaddrinfo(result) } }
            var addresses: [String] = []
            var next = status == 0 ? result : nil
            while let info = next {
                if let address = HostResolver.text(info), !addresses.contains(address) { addresses.append(address) }
                next = info.pointee.ai_next
            }
            guard !addresses.isEmpty else {
                box.callback(.failure(UVError(status == 0 ? Int32(UV_EAI_NONAME.rawValue) : status)))
                return
            }
            box.callback(.success(addresses))
        }, host, nil, &hints)
        if status < 0 {
            Unmanaged<Completion>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            LoopTimer.once(on: loop, after: 0) { completion(.failure(UVError(status))) }
        }
    }

    /// True for a literal IPv4 or IPv6 address (nothing to resolve).
    package static func isAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    private static func text(_ info: UnsafeMutablePointer<addrinfo>) -> String? {
        guard let address = info.pointee.ai_addr else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch info.pointee.ai_family {
        case AF_INET:
            let status = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_name($0, &buffer, buffer.count) }
            return status == 0 ? String(cString: buffer) : nil
        case AF_INET6:
            let status = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_name($0, &buffer, buffer.count) }
            return status == 0 ? String(cString: buffer) : nil
        default:
            return nil
        }
    }

    private final class Completion {
        let callback: (Result<[String], UVError>) -> Void
        init(_ callback: @escaping (Result<[String], UVError>) -> Void) { self.callback = callback }
    }
}
