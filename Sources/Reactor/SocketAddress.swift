import CLibUV
import Glibc

/// An IPv4 or IPv6 socket address, printed as "ip:port" or "[ip]:port".
package struct SocketAddress: CustomStringConvertible, Equatable {
    package let ip: String
    package let port: Int
    package let isIPv6: Bool

    init?(_ storage: sockaddr_storage) {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            let (ip, port): (String, Int) = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addr in
                    _ = uv_ip4_name(addr, &text, text.count)
                    return (String(cString: text), Int(UInt16(bigEndian: addr.pointee.sin_port)))
                }
            }
            (self.ip, self.port, isIPv6) = (ip, port, false)
        case AF_INET6:
            let (ip, port): (String, Int) = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { addr in
                    _ = uv_ip6_name(addr, &text, text.count)
                    return (String(cString: text), Int(UInt16(bigEndian: addr.pointee.sin6_port)))
                }
            }
            (self.ip, self.port, isIPv6) = (ip, port, true)
        default:
            return nil
        }
    }

    package var description: String {
        isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
