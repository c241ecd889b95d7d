import CSupport
import LoadGenerator
@testable import TestSupport
import XCTest

final class FrameTemplateTests: XCTestCase {
    private let mask = MaskKey(0x12, 0x34, 0x56, 0x78)

    /// Decodes one client frame as the server would (unmasking in place):
    /// the wrapped form in a binary frame, as current nodes send it.
    private func decode(_ bytes: [UInt8], binary: Bool = false) throws -> String {
        var decoder = ts_ws_decoder()
        ts_ws_decoder_init(&decoder, 1 << 20, 1)
        var copy = bytes
        var frame = ts_ws_frame()
        let used = copy.withUnsafeMutableBufferPointer { ts_ws_decode(&decoder, $0.baseAddress, $0.count, &frame) }
        XCTAssertEqual(used, Int64(bytes.count))
        XCTAssertEqual(frame.opcode, UInt8((binary ? TS_WS_OP_BINARY : TS_WS_OP_TEXT).rawValue))
        XCTAssertEqual(frame.fin, 1)
        return String(decoding: UnsafeBufferPointer(start: frame.payload, count: frame.payload_len), as: UTF8.self)
    }

    private func render(_ template: FrameTemplate, at nanoseconds: Int64, sequence: UInt64) -> [UInt8] {
        let stamp = MaskedStamp(mask: mask)
        stamp.update(to: nanoseconds)
        var out = [UInt8](repeating: 0xEE, count: template.count)
        let written = out.withUnsafeMutableBufferPointer { template.write(to: $0.baseAddress!, stamp: stamp, sequence: sequence) }
        XCTAssertEqual(written, template.count)
        return out
    }

    func testFlatFrameCarriesTimestampAndSequence() throws {
        let text = MessageText(kind: "txpool.import", members: [("ready", "6"), ("future", "1")], wire: .flat)
        let template = FrameTemplate(kind: "txpool.import", text: text, mask: mask)
        let bytes = render(template, at: 1_764_403_200_123_456_789, sequence: 42)
        // Masked client text frame, 7-bit length, the run's mask key.
        XCTAssertEqual(Array(bytes[0..<6]), [0x81, 0x80 | UInt8(text.bytes.count), 0x12, 0x34, 0x56, 0x78])
        XCTAssertEqual(try decode(bytes),
                       #"{"msg":"txpool.import","ts":"2025-11-29T08:00:00.123456789+00:00","loadgen_seq":"#
                       + String(repeating: " ", count: 18) + #"42,"ready":6,"future":1}"#)
    }

    func testWrappedFrameNumbersInsidePayload() throws {
        // finalized_number is a block number: the best block (at its start
        // value here) less the finality lag, in the catalogue's string form.
        let text = MessageText(kind: "afg.finalized", members: [("finalized_number", "\"7\"")], wire: .wrapped)
        let template = FrameTemplate(kind: "afg.finalized", text: text, mask: mask)
        let bytes = render(template, at: 0, sequence: UInt64.max)
        XCTAssertEqual(try decode(bytes, binary: true),
                       #"{"id":1,"ts":"1970-01-01T00:00:00.000000000+00:00","payload":{"msg":"afg.finalized","loadgen_seq":18446744073709551615,"finalized_number":"10000098"}}"#)
    }

    func testPatchingTwiceLeavesNoTraceOfTheFirst() throws {
        // The same template patched with a longer then a shorter number.
        let text = MessageText(kind: "k", members: [], wire: .flat)
        let template = FrameTemplate(kind: "k", text: text, mask: mask)
        let stamp = MaskedStamp(mask: mask)
        var out = [UInt8](repeating: 0, count: template.count)
        out.withUnsafeMutableBufferPointer { _ = template.write(to: $0.baseAddress!, stamp: stamp, sequence: 123_456_789) }
        stamp.update(to: 86_400_000_000_000)
        out.withUnsafeMutableBufferPointer { _ = template.write(to: $0.baseAddress!, stamp: stamp, sequence: 7) }
        XCTAssertEqual(try decode(out),
                       #"{"msg":"k","ts":"1970-01-02T00:00:00.000000000+00:00","loadgen_seq":"# + String(repeating: " ", count: 19) + "7}")
    }

    func testBlockNumbersFollowTheBestBlock() throws {
        // A number stays a number, a string of digits stays a string.
        let text = MessageText(kind: "system.interval", members: [
            ("height", "4183214"), ("finalized_height", "\"4183212\""), ("peers", "12"), ("best", "\"0xab\""),
        ], wire: .flat)
        let template = FrameTemplate(kind: "system.interval", text: text, mask: mask)
        let stamp = MaskedStamp(mask: mask)
        stamp.bestBlock = 10_000_123
        var out = [UInt8](repeating: 0, count: template.count)
        out.withUnsafeMutableBufferPointer { _ = template.write(to: $0.baseAddress!, stamp: stamp, sequence: 1) }
        XCTAssertTrue(try decode(out).hasSuffix(#""height":10000123,"finalized_height":"10000121","peers":12,"best":"0xab"}"#))
        XCTAssertEqual(ChainHeight.best(elapsedMs: 0), 10_000_100)
        XCTAssertEqual(ChainHeight.best(elapsedMs: 11_999), 10_000_101)
    }

    func testLongPayloadUsesSixteenBitLength() throws {
        let long = "\"" + String(repeating: "x", count: 300) + "\""
        let text = MessageText(kind: "big", members: [("blob", long)], wire: .flat)
        let template = FrameTemplate(kind: "big", text: text, mask: mask)
        let bytes = render(template, at: 0, sequence: 0)
        XCTAssertEqual(Array(bytes[0..<4]), [0x81, 0x80 | 126, UInt8(text.bytes.count >> 8), UInt8(text.bytes.count & 0xFF)])
        XCTAssertTrue(try decode(bytes).hasSuffix(#""blob":"# + long + "}"))
    }

    func testNamesAreEscaped() {
        XCTAssertEqual(Array(MessageText(kind: "a\"b\\c\u{1}", members: [], wire: .flat).bytes.prefix(22)),
                       Array(#"{"msg":"a\"b\\c\u0001""#.utf8))
    }
}
