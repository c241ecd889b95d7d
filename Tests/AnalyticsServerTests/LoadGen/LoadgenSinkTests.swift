import Foundation
@testable import TestSupport
import XCTest

/// `tetcore-loadgen --sink`: the discard server the generator's speed is
/// measured against counts exactly what the generator sent.
final class LoadgenSinkTests: XCTestCase {
    func testSinkCountsEveryMessageTheGeneratorSent() throws {
        let sink = try LoadgenProcess(["--sink", "0", "--duration", "4s"])
        var port = 0
        eventually(60, "sink listening") {
            guard let line = sink.stderr.split(separator: "\n").first(where: { $0.hasPrefix("sink: listening on ") }),
                  let value = line.split(separator: ":").last.flatMap({ Int($0) }) else { return false }
            port = value
            return true
        }
        let (status, summary) = try LoadgenProcess.runJSON([
            "--url", "ws://127.0.0.1:\(port)", "--nodes", "3", "--rate", "max", "--messages-per-node", "1000",
        ])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(summary["messages"] as? Int, 3 * 1001)
        XCTAssertEqual(try sink.wait(10), 0)
        XCTAssertTrue(sink.stdout.hasPrefix("sink: 3,003 messages, "), sink.stdout)
        // The sink's bytes are the frames plus the three upgrade requests
        // and close frames.
        let sent = try XCTUnwrap(summary["bytes"] as? Int)
        let received = sink.stdout.split(separator: " ").dropFirst(3).first.map { Int($0.replacingOccurrences(of: ",", with: "")) ?? 0 } ?? 0
        XCTAssertGreaterThan(received, sent)
        XCTAssertLessThan(received, sent + 3 * 400)
    }
}
