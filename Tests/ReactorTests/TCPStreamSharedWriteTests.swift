import Foundation
@testable import Reactor
@testable import TestSupport
import XCTest

/// A shared body is written after its head without being copied: the same
/// bytes to one socket twice, each write holding them until the kernel
/// has taken them, so the caller may drop its reference at once.
final class TCPStreamSharedWriteTests: XCTestCase {
    func testTheHeadThenTheSharedBytesArriveAndAreReleasedWhenWritten() throws {
        let loop = EventLoop()
        // More than loopback socket buffers take at once: the writes stay
        // queued after `write` returns.
        let body = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let head = Array("HEAD\r\n".utf8)
        weak var written: SharedBytes?
        var completions: [UVError?] = []
        var streams: [TCPStream] = []
        let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0, backlog: 4) { stream in
            streams.append(stream)
            let shared = SharedBytes(body)
            written = shared
            for _ in 0..<2 {
                head.withUnsafeBytes { _ = stream.write($0, shared: shared) { completions.append($0) } }
            }
        }
        let received = Received()
        let peer = Thread { [port = listener.port, expected = 2 * (head.count + body.count)] in
            guard let client = try? RawClient(port: port) else { return }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while bytes.count < expected {
                let n = recv(client.fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            received.set(bytes)
        }
        peer.start()
        var heldWhileQueued = false
        LoopRunner.run(loop, timeout: 60) {
            // The listener's closure let go of the bytes; only queued writes hold them.
            if !streams.isEmpty && completions.count < 2 && written != nil { heldWhileQueued = true }
            return received.get() != nil && completions.count == 2
        }
        XCTAssertTrue(heldWhileQueued, "the writes hold the bytes, not a copy")
        XCTAssertEqual(received.get(), head + body + head + body)
        XCTAssertEqual(completions.count, 2)
        XCTAssertTrue(completions.allSatisfy { $0 == nil })
        XCTAssertNil(written, "the bytes are freed once both writes are done")
        for stream in streams { stream.close() }
        listener.close()
        loop.runOnce(wait: false)
    }
}

/// The peer thread's bytes, handed to the test's thread under a lock.
private final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8]?

    func set(_ bytes: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        self.bytes = bytes
    }

    func get() -> [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        return bytes
    }
}
