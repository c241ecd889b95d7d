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

    func testArraysCarryEveryValueNulTerminatedAndNullAsANullPointer() throws {
        let arrays = try PGParameterArrays([.text("ab"), .text(nil), .int32(7), .binary(oid: 17, bytes: [])])
        XCTAssertEqual(arrays.count, 4)
        XCTAssertEqual(arrays.types, [0, 0, 23, 17])
        XCTAssertEqual(arrays.formats, [0, 0, 1, 1])
        XCTAssertEqual(arrays.lengths, [2, 0, 4, 0])
        let values: [[UInt8]?] = arrays.withValues { pointers in
            zip(pointers, [3, 0, 5, 1]).map { pointer, count in
                pointer.map { Array(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self),
                                                        count: count)) }
            }
        }
        XCTAssertEqual(values, [[0x61, 0x62, 0], nil, [0, 0, 0, 7, 0], [0]])
    }

    func testArraysBuiltInALentBufferHoldTheSameValuesInItsRoom() throws {
        var buffer = [UInt8](repeating: 0xFF, count: 1 << 16)
        let room = buffer.capacity
        let parameters: [PGParameter] = [.text("ab"), .text(nil), .int32(7)]
        let arrays = try PGParameterArrays(parameters, reusing: &buffer)
        XCTAssertEqual(buffer, [], "the buffer is handed over")
        XCTAssertEqual(arrays.storage, try PGParameterArrays(parameters).storage)
        XCTAssertEqual(arrays.storage.capacity, room, "in the buffer's room, not a new array")
    }

    func testATextValueWithANulByteIsRefused() {
        XCTAssertThrowsError(try PGParameterArrays([.int32(1), .text("a\u{0}b")])) { error in
            XCTAssertEqual((error as? PGError)?.kind, .query)
            XCTAssertEqual((error as? PGError)?.message, "text parameter $2 contains a NUL byte")
        }
        XCTAssertNoThrow(try PGParameterArrays([.binary(oid: 17, bytes: [0, 0])]), "binary values may hold NUL bytes")
    }
}
