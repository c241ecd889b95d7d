@testable import PostgresClient
@testable import TestSupport
import XCTest
@testable import PostgresClient

final class PGRowsTests: XCTestCase {
    private let rows = PGRows(columnNames: ["id", "name", "note"],
                              rows: [["1", "ä", nil], ["2", "", "x"]], affectedRows: 2)

    func testValuesByIndexAndByName() {
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows.affectedRows, 2)
        XCTAssertEqual(rows.string(0, 0), "1")
        XCTAssertEqual(rows.string(0, "name"), "ä")
        XCTAssertEqual(rows.string(1, "name"), "", "an empty string is not NULL")
        XCTAssertEqual(rows.string(1, 2), "x")
    }

    func testNullAndMissingCellsAreNil() {
        XCTAssertNil(rows.string(0, "note"))
        XCTAssertNil(rows.string(2, 0))
        XCTAssertNil(rows.string(-1, 0))
        XCTAssertNil(rows.string(0, 3))
        XCTAssertNil(rows.string(0, "missing"))
    }

    func testIntegersAreReadWithoutAString() {
        let numbers = PGRows(columnNames: ["n"], rows: [["0"], ["-42"], ["9223372036854775807"], ["-9223372036854775808"],
                                                        ["9223372036854775808"], ["1.5"], ["-"], [""], [nil], ["12a"]])
        XCTAssertEqual((0..<numbers.count).map { numbers.int64($0, 0) },
                       [0, -42, Int64.max, Int64.min, nil, nil, nil, nil, nil, nil])
        XCTAssertNil(numbers.int64(0, 1))
        XCTAssertNil(numbers.int64(10, 0))
    }
}
