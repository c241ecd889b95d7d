@testable import Reactor
@testable import TestSupport
import XCTest
@testable import Reactor

/// TCPListener binds its own socket so that the loops of one process can
/// share a port (SO_REUSEPORT), and only when asked to.
final class TCPListenerTests: XCTestCase {
    func testListenersWithReusePortShareAPortAndBothAccept() throws {
        let (first, second) = (EventLoop(), EventLoop())
        var accepted = [0, 0]
        let a = try TCPListener(loop: first, host: "127.0.0.1", port: 0, backlog: 64, reusePort: true) { stream in
            accepted[0] += 1
            stream.close()
        }
        let b = try TCPListener(loop: second, host: "127.0.0.1", port: a.port, backlog: 64, reusePort: true) { stream in
            accepted[1] += 1
            stream.close()
        }
        XCTAssertNotEqual(a.port, 0)
        XCTAssertEqual(b.port, a.port)
        // The kernel spreads connections by a hash of the client's address
        // and port: 64 connections land on both listeners.
        var clients: [Int32] = []
        for _ in 0..<64 { clients.append(try connect(port: a.port)) }
        LoopRunner.run(first, timeout: 60) {
            second.runOnce(wait: false)
            return accepted[0] + accepted[1] == 64
        }
        XCTAssertGreaterThan(accepted[0], 0, "\(accepted)")
        XCTAssertGreaterThan(accepted[1], 0, "\(accepted)")
        for fd in clients { close(fd) }
        a.close()
        b.close()
    }

    func testWithoutReusePortASecondListenerOnThePortFails() throws {
        let loop = EventLoop()
        let first = try TCPListener(loop: loop, host: "127.0.0.1", port: 0, backlog: 8) { $0.close() }
        XCTAssertThrowsError(try TCPListener(loop: loop, host: "127.0.0.1", port: first.port, backlog: 8) { $0.close() }) { error in
            XCTAssertEqual((error as? UVError)?.name, "EADDRINUSE")
        }
        // A listener with SO_REUSEPORT cannot join one bound without it.
        XCTAssertThrowsError(try TCPListener(loop: loop, host: "127.0.0.1", port: first.port, backlog: 8, reusePort: true) { $0.close() })
        first.close()
        loop.runOnce(wait: false)
    }

    func testBindsAnIPv6Address() throws {
        let loop = EventLoop()
        let listener = try TCPListener(loop: loop, host: "::1", port: 0, backlog: 8) { $0.close() }
        XCTAssertNotEqual(listener.port, 0)
        listener.close()
        loop.runOnce(wait: false)
    }

    private func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else { throw UVError(-errno) }
        return fd
    }
}
