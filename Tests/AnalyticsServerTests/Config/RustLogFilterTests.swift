@testable import AnalyticsServer
import Logging
@testable import TestSupport
import XCTest

/// RUST_LOG values as the original server's users wrote them.
final class RustLogFilterTests: XCTestCase {
    func testBareLevels() {
        XCTAssertEqual(RustLogFilter.level(from: "error"), .error)
        XCTAssertEqual(RustLogFilter.level(from: "WARN"), .warning)
        XCTAssertEqual(RustLogFilter.level(from: "Info"), .info)
        XCTAssertEqual(RustLogFilter.level(from: " debug "), .debug)
        XCTAssertEqual(RustLogFilter.level(from: "trace"), .trace)
        XCTAssertEqual(RustLogFilter.level(from: "off"), .critical)
    }

    func testDirectives() {
        XCTAssertEqual(RustLogFilter.level(from: "tetcore_analytics=debug,actix_web=info"), .debug)
        XCTAssertEqual(RustLogFilter.level(from: "actix_web=info, tetcore_analytics = warn"), .warning)
        XCTAssertEqual(RustLogFilter.level(from: "info,tetcore_analytics=trace"), .trace, "the module beats the default")
        XCTAssertEqual(RustLogFilter.level(from: "tetcore_analytics=error,info"), .error, "whatever the order")
        XCTAssertEqual(RustLogFilter.level(from: "actix_web=trace,warn"), .warning, "other modules are ignored")
        XCTAssertEqual(RustLogFilter.level(from: "debug,error"), .error, "the last default counts")
        XCTAssertEqual(RustLogFilter.level(from: "tetcore_analytics"), .trace, "a bare module means everything from it")
        XCTAssertEqual(RustLogFilter.level(from: "tetcore_analytics::db=debug,tetcore_analytics=error"), .debug,
                       "the most verbose level given to the crate or its modules")
        XCTAssertEqual(RustLogFilter.level(from: "tetcore_analytics_extra=trace,info"), .info,
                       "another crate that shares the prefix is not this one")
    }

    func testUnusableValues() {
        for value in ["", " , ", "verbose", "actix_web=info", "tetcore_analytics=loud", "tetcore_analytics=",
                      "=debug", "debug/some regex", "tetcore-analytics=debug", "a:::b=debug"] {
            XCTAssertNil(RustLogFilter.level(from: value), value)
        }
    }
}
