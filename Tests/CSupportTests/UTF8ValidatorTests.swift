import CSupport
import XCTest

/// The incremental UTF-8 validator (RFC 3629).
final class UTF8ValidatorTests: XCTestCase {
    private func validate(_ bytes: [UInt8], from state: UInt32 = TS_UTF8_ACCEPT) -> UInt32 {
        ts_utf8_validate(state, bytes, bytes.count)
    }

    /// Not at a boundary and not rejected: a character is still incomplete.
    private func isPending(_ state: UInt32) -> Bool {
        state != TS_UTF8_ACCEPT && state != TS_UTF8_REJECT
    }

    func testEmptyInputKeepsTheState() {
        XCTAssertEqual(validate([]), TS_UTF8_ACCEPT)
        let pending = validate([0xE2])
        XCTAssertEqual(validate([], from: pending), pending)
        XCTAssertEqual(validate([], from: TS_UTF8_REJECT), TS_UTF8_REJECT)
    }

    func testValidText() {
        XCTAssertEqual(validate(Array("plain ASCII, long enough for the eight-byte path".utf8)), TS_UTF8_ACCEPT)
        XCTAssertEqual(validate(Array("héllo wörld € 𝄞 日本語".utf8)), TS_UTF8_ACCEPT)
    }

    func testTheEdgesOfEachEncodingLength() {
        let valid: [(String, [UInt8])] = [
            ("U+0000", [0x00]), ("U+007F", [0x7F]),
            ("U+0080", [0xC2, 0x80]), ("U+07FF", [0xDF, 0xBF]),
            ("U+0800", [0xE0, 0xA0, 0x80]), ("U+D7FF", [0xED, 0x9F, 0xBF]),
            ("U+E000", [0xEE, 0x80, 0x80]), ("U+FFFF", [0xEF, 0xBF, 0xBF]),
            ("U+10000", [0xF0, 0x90, 0x80, 0x80]), ("U+10FFFF", [0xF4, 0x8F, 0xBF, 0xBF]),
        ]
        for (name, bytes) in valid {
            XCTAssertEqual(validate(bytes), TS_UTF8_ACCEPT, name)
        }
    }

    func testOverlongFormsAreRejected() {
        for bytes: [UInt8] in [[0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],
                               [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF]] {
            XCTAssertEqual(validate(bytes), TS_UTF8_REJECT, "\(bytes)")
        }
    }

    func testSurrogatesAreRejected() {
        for bytes: [UInt8] in [[0xED, 0xA0, 0x80], [0xED, 0xAF, 0xBF], [0xED, 0xB0, 0x80], [0xED, 0xBF, 0xBF]] {
            XCTAssertEqual(validate(bytes), TS_UTF8_REJECT, "\(bytes)")
        }
    }

    func testCodePointsAboveU10FFFFAreRejected() {
        for bytes: [UInt8] in [[0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xF7, 0xBF, 0xBF, 0xBF],
                               [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE], [0xFF]] {
            XCTAssertEqual(validate(bytes), TS_UTF8_REJECT, "\(bytes)")
        }
    }

    func testStrayAndMissingContinuationBytesAreRejected() {
        for bytes: [UInt8] in [[0x80], [0xBF], [0x61, 0x80], [0xC3, 0x61], [0xE2, 0x82, 0x61], [0xF0, 0x9D, 0x84, 0xC3],
                               [0xC3, 0xA9, 0xA9]] {
            XCTAssertEqual(validate(bytes), TS_UTF8_REJECT, "\(bytes)")
        }
    }

    func testTruncatedSequencesArePending() {
        for bytes: [UInt8] in [[0xC3], [0xE2], [0xE2, 0x82], [0xF0], [0xF0, 0x9D], [0xF0, 0x9D, 0x84], [0x61, 0x62, 0xE2]] {
            XCTAssertTrue(isPending(validate(bytes)), "\(bytes)")
        }
    }

    func testACharacterSplitAcrossCallsAtEveryPosition() {
        let bytes = Array("aé€𝄞z and some ASCII after it".utf8)
        for split in 0...bytes.count {
            let middle = validate(Array(bytes[..<split]))
            XCTAssertNotEqual(middle, TS_UTF8_REJECT, "split at \(split)")
            XCTAssertEqual(validate(Array(bytes[split...]), from: middle), TS_UTF8_ACCEPT, "split at \(split)")
        }
    }

    func testOneByteAtATime() {
        var state = TS_UTF8_ACCEPT
        for byte in Array("𝄞€é".utf8) {
            state = validate([byte], from: state)
        }
        XCTAssertEqual(state, TS_UTF8_ACCEPT)

        state = TS_UTF8_ACCEPT
        for byte: UInt8 in [0xE0, 0x9F, 0xBF] {
            state = validate([byte], from: state)
        }
        XCTAssertEqual(state, TS_UTF8_REJECT, "the overlong check holds across calls")
    }

    func testRejectIsSticky() {
        let rejected = validate([0xFF])
        XCTAssertEqual(validate(Array("fine".utf8), from: rejected), TS_UTF8_REJECT)
    }

    /// An invalid byte anywhere in a long ASCII run, so it is found whether
    /// it sits inside an eight-byte step or in the tail.
    func testAnInvalidByteAtAnyPositionOfALongASCIIRun() {
        for position in 0..<40 {
            var bytes = [UInt8](repeating: 0x61, count: 40)
            bytes[position] = 0x80
            XCTAssertEqual(validate(bytes), TS_UTF8_REJECT, "position \(position)")
            bytes[position] = 0xC3 // a lead byte: pending only at the very end
            XCTAssertEqual(validate(bytes), position == 39 ? validate([0xC3]) : TS_UTF8_REJECT, "position \(position)")
        }
    }
}
