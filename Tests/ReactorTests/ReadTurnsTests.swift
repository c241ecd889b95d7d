@testable import Reactor
import Foundation
@testable import TestSupport
import XCTest
@testable import Reactor

/// ReadTurns: a burst on several sockets is read over several loop
/// iterations, each within the budget (plus the one read that crossed it),
/// and every byte arrives.
final class ReadTurnsTests: XCTestCase {
    func testABurstIsSpreadOverTurnsAndEveryByteArrives() throws {
        let budget = 64 * 1024
        let loop = EventLoop(readBytesPerTurn: budget)
        var streams: [TCPStream] = []
        var readThisTurn = 0
        var readInAll = 0
        let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0, backlog: 16) { stream in
            streams.append(stream)
            stream.startReading(onData: { bytes in
                readThisTurn += bytes.count
                readInAll += bytes.count
            }, onEnd: { _ in })
        }
        let clients = 4, bytesEach = 1 << 20
        let senders = (0..<clients).map { _ in
            Thread { [port = listener.port] in
                guard let client = try? RawClient(port: port) else { return }
                try? client.send([UInt8](repeating: 0x61, count: bytesEach))
                sleep(5) // keep the socket open while the loop reads
            }
        }
        senders.forEach { $0.start() }

        var largestTurn = 0
        var turns = 0
        let deadline = Date().addingTimeInterval(60)
        while readInAll < clients * bytesEach && Date() < deadline {
            readThisTurn = 0
            loop.runOnce(wait: false)
            largestTurn = max(largestTurn, readThisTurn)
            if readThisTurn > 0 { turns += 1 }
            usleep(1000)
        }
        XCTAssertEqual(readInAll, clients * bytesEach, "every byte read")
        // The read that crosses the budget may bring up to one shared buffer (256 KiB).
        XCTAssertLessThanOrEqual(largestTurn, budget + 256 * 1024)
        XCTAssertGreaterThanOrEqual(turns, clients * bytesEach / (budget + 256 * 1024))
        streams.forEach { $0.close() }
        listener.close()
        loop.runOnce(wait: false)
    }
}
