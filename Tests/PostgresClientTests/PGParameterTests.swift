@testable import PostgresClient
@testable import TestSupport
import XCTest
@testable import PostgresClient

final class PGParameterTests: XCTestCase {
    func testIntegersAndBooleansAreBinaryInNetworkByteOrder() {
        let int64 = PGParameter.int64(0x0102_0304_0506_0708)
        XCTAssertEqual(int64.oid, 20)
        XCTAssertEqual(int64.value, [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertTrue(int64.isBinary)
        let int32 = PGParameter.int32(-2)
        XCTAssertEqual(int32.oid, 23)
        XCTAssertEqual(int32.value, [0xff, 0xff, 0xff, 0xfe])
        XCTAssertEqual(PGParameter.bool(true).value, [1])
        XCTAssertEqual(PGParameter.bool(false).value, [0])
        XCTAssertEqual(PGParameter.bool(false).oid, 16)
    }

    func testTextLeavesTheTypeToTheServerAndNilIsNull() {
        let text = PGParameter.text("é")
        XCTAssertEqual(text.oid, 0)
        XCTAssertEqual(text.value, [0xc3, 0xa9])
        XCTAssertFalse(text.isBinary)
        XCTAssertNil(PGParameter.text(nil).value)
    }

    func testArraysCarryTextNulTerminatedBinaryAsItIsAndNullAsANullPointer() throws {
        let arrays = try PGParameterArrays([.text("ab"), .text(nil), .int32(7), .binary(oid: 17, bytes: [])])
        XCTAssertEqual(arrays.count, 4)
        XCTAssertEqual(arrays.types, [0, 0, 23, 17])
        XCTAssertEqual(arrays.formats, [0, 0, 1, 1])
        XCTAssertEqual(arrays.lengths, [2, 0, 4, 0])
        // Text is read up to its NUL, binary for its length.
        let values: [[UInt8]?] = arrays.withValues { pointers in
            zip(pointers, [3, 0, 4, 0]).map { pointer, count in
                pointer.map { Array(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self),
                                                        count: count)) }
            }
        }
        XCTAssertEqual(values, [[0x61, 0x62, 0], nil, [0, 0, 0, 7], []], "an empty binary value is not NULL")
    }

    func testBinaryValuesArePassedWhereTheyAreNotCopied() throws {
        let batch = [UInt8](repeating: 0xAB, count: 300_000)
        let arrays = try PGParameterArrays([.text("id"), .binary(oid: 17, bytes: batch), .bool(true)])
        let passed = arrays.withValues { pointers in pointers[1].map(UnsafeRawPointer.init) }
        let own = batch.withUnsafeBytes { $0.baseAddress }
        XCTAssertEqual(passed, own)
    }

    func testATextValueWithANulByteIsRefused() {
        XCTAssertThrowsError(try PGParameterArrays([.int32(1), .text("a\u{0}b")])) { error in
            XCTAssertEqual((error as? PGError)?.kind, .query)
            XCTAssertEqual((error as? PGError)?.message, "text parameter $2 contains a NUL byte")
        }
        XCTAssertNoThrow(try PGParameterArrays([.binary(oid: 17, bytes: [0, 0])]), "binary values may hold NUL bytes")
    }
}
