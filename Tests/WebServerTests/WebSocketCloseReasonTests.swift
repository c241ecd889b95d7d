@testable import WebServer
import XCTest

/// A close reason fits the frame (123 bytes) and stays valid UTF-8.
final class WebSocketCloseReasonTests: XCTestCase {
    func testShortReasonsAreKeptWhole() {
        XCTAssertEqual(WebSocketConnection.closeReason(""), [])
        let exact = String(repeating: "a", count: 123)
        XCTAssertEqual(WebSocketConnection.closeReason(exact), Array(exact.utf8))
    }

    func testLongReasonsAreCutBeforeACharacterNeverInsideOne() {
        // 122 ASCII bytes, then "é" (2 bytes) would end at byte 124: it goes.
        let twoByte = String(repeating: "a", count: 122) + "é" + "tail"
        XCTAssertEqual(WebSocketConnection.closeReason(twoByte), Array(String(repeating: "a", count: 122).utf8))
        // "€" (3 bytes) from byte 121 to 123 fits exactly: it stays.
        let fits = String(repeating: "a", count: 120) + "€" + "tail"
        XCTAssertEqual(WebSocketConnection.closeReason(fits), Array((String(repeating: "a", count: 120) + "€").utf8))
        // Four-byte characters throughout: whole ones only, within 123.
        let emoji = String(repeating: "🦀", count: 40)
        let cut = WebSocketConnection.closeReason(emoji)
        XCTAssertEqual(cut.count, 120)
        XCTAssertEqual(String(validatingUTF8: cut.map { CChar(bitPattern: $0) } + [0]), String(repeating: "🦀", count: 30))
    }
}
