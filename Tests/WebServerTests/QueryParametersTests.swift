@testable import WebServer
@testable import TestSupport
import XCTest
@testable import WebServer

/// Request-target splitting and query decoding work on bytes: a combining
/// mark sent raw right after '?', '&' or '=' forms one Character with it,
/// and must not hide the separator (the query_string fuzz target found it).
final class QueryParametersTests: XCTestCase {
    private func pairs(_ query: String) -> [[String]]? {
        QueryParameters(parsing: query[...])?.pairs.map { [$0.name, $0.value] }
    }

    func testDecodesEscapesPlusAndEmptyParts() {
        XCTAssertEqual(pairs("a=x%20y+z&&b=&=c&d"), [["a", "x y z"], ["b", ""], ["", "c"], ["d", ""]])
        XCTAssertEqual(pairs("v=%E2%9C%93"), [["v", "\u{2713}"]])
    }

    func testRefusesMalformedEscapesAndInvalidUTF8() {
        XCTAssertNil(pairs("a=%zz"))
        XCTAssertNil(pairs("a=%4"))
        XCTAssertNil(pairs("a=%FF"))
    }

    func testCombiningMarkAfterSeparatorDoesNotHideIt() {
        // U+065D (Arabic reversed damma) extends the preceding '&' or '='.
        XCTAssertEqual(pairs("a=1&\u{65D}b=2"), [["a", "1"], ["\u{65D}b", "2"]])
        XCTAssertEqual(pairs("a=\u{301}x"), [["a", "\u{301}x"]])
    }

    func testTargetSplitsAtTheFirstQuestionMarkByte() {
        let split = QueryParameters.splitTarget("/nodes?\u{301}a=1?b")
        XCTAssertEqual(String(split.path), "/nodes")
        XCTAssertEqual(split.query.map(String.init), "\u{301}a=1?b")
        let bare = QueryParameters.splitTarget("/nodes")
        XCTAssertEqual(String(bare.path), "/nodes")
        XCTAssertNil(bare.query)
    }
}
