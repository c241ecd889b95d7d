@testable import Reactor
import Foundation
@testable import TestSupport
import XCTest
@testable import Reactor

/// closeAfterWrites: once the owner has called it, the stream never calls
/// the owner back (owners capture themselves unowned and may be gone),
/// even when the peer sends more and closes its side before the writes are
/// out; the writes still reach the peer in full, ended by a FIN.
final class TCPStreamCloseTests: XCTestCase {
    func testNoCallbackAfterCloseAfterWritesAndTheWritesStillArrive() throws {
        let loop = EventLoop()
        // More than the loopback socket buffers hold while the peer does
        // not read, so the writes are still queued when the peer's EOF comes.
        let replyBytes = 16 << 20
        var streams: [TCPStream] = []
        var callsBeforeClosing = 0
        var callsAfterClosing: [String] = []
        var closing = false
        let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0, backlog: 4) { stream in
            streams.append(stream)
            stream.startReading(onData: { bytes in
                guard !closing else { return callsAfterClosing.append("data: \(bytes.count) bytes") }
                callsBeforeClosing += 1
                closing = true
                stream.write([UInt8](repeating: 0x62, count: replyBytes))
                stream.closeAfterWrites(within: 10_000)
            }, onEnd: { error in
                callsAfterClosing.append("end: \(String(describing: error))")
            })
        }

        let outcome = PeerOutcome()
        let peer = Thread { [port = listener.port] in
            guard let client = try? RawClient(port: port) else { return }
            try? client.send("first")
            // The reply's first bytes: the server has queued it and is waiting to close.
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var total = max(0, recv(client.fd, &buffer, buffer.count, 0))
            try? client.send("more after the server closed")
            shutdown(client.fd, Int32(SHUT_WR))
            usleep(300_000) // the EOF reaches the server before its writes are out
            var end = ""
            while end.isEmpty {
                let n = recv(client.fd, &buffer, buffer.count, 0)
                if n > 0 { total += n } else { end = n == 0 ? "EOF" : "error \(errno)" }
            }
            outcome.set(received: total, endedBy: end)
        }
        peer.start()
        LoopRunner.run(loop, timeout: 60) { outcome.read().endedBy != nil }
        let (received, endedBy) = outcome.read()
        XCTAssertEqual(callsBeforeClosing, 1)
        XCTAssertEqual(callsAfterClosing, [], "the owner was called after closeAfterWrites")
        XCTAssertEqual(received, replyBytes, "every queued byte reached the peer")
        XCTAssertEqual(endedBy, "EOF", "the stream closed with a FIN, not a reset")
        XCTAssertTrue(streams.allSatisfy(\.isClosed))
        listener.close()
        loop.runOnce(wait: false)
    }
}

/// What the peer thread saw, handed to the test's thread under a lock.
private final class PeerOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var received = 0
    private var endedBy: String?

    func set(received: Int, endedBy: String) {
        lock.lock()
        defer { lock.unlock() }
        self.received = received
        self.endedBy = endedBy
    }

    func read() -> (received: Int, endedBy: String?) {
        lock.lock()
        defer { lock.unlock() }
        return (received, endedBy)
    }
}
