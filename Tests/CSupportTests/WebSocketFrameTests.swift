import CSupport
import XCTest

/// The C frame codec against hand-built frames (RFC 6455 §5.7 and every rule
/// a receiver must enforce).
final class WebSocketFrameTests: XCTestCase {
    private func decode(_ bytes: [UInt8], server: Bool = true, max: UInt64 = 1 << 20,
                        decoder: inout ts_ws_decoder) -> (Int64, ts_ws_frame, [UInt8]) {
        var buffer = bytes
        var frame = ts_ws_frame()
        let result = ts_ws_decode(&decoder, &buffer, buffer.count, &frame)
        var payload: [UInt8] = []
        if result > 0 {
            let start = Int(result) - frame.payload_len
            payload = Array(buffer[start..<Int(result)])
        }
        return (result, frame, payload)
    }

    private func decodeOne(_ bytes: [UInt8], server: Bool = true, max: UInt64 = 1 << 20) -> (Int64, ts_ws_frame, [UInt8]) {
        var decoder = ts_ws_decoder()
        ts_ws_decoder_init(&decoder, max, server ? 1 : 0)
        return decode(bytes, decoder: &decoder)
    }

    func testRFCSingleFrameUnmaskedTextOnClient() {
        let (used, frame, payload) = decodeOne([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], server: false)
        XCTAssertEqual(used, 7)
        XCTAssertEqual(frame.opcode, UInt8(TS_WS_OP_TEXT.rawValue))
        XCTAssertEqual(frame.fin, 1)
        XCTAssertEqual(String(decoding: payload, as: UTF8.self), "Hello")
    }

    func testRFCSingleFrameMaskedText() {
        let (used, _, payload) = decodeOne([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        XCTAssertEqual(used, 11)
        XCTAssertEqual(String(decoding: payload, as: UTF8.self), "Hello")
    }

    func testRFCFragmentedUnmaskedText() {
        var decoder = ts_ws_decoder()
        ts_ws_decoder_init(&decoder, 1 << 20, 0)
        let first = decode([0x01, 0x03, 0x48, 0x65, 0x6c], decoder: &decoder)
        XCTAssertEqual(first.0, 5)
        XCTAssertEqual(first.1.first, 1)
        XCTAssertEqual(first.1.fin, 0)
        let second = decode([0x80, 0x02, 0x6c, 0x6f], decoder: &decoder)
        XCTAssertEqual(second.0, 4)
        XCTAssertEqual(second.1.first, 0)
        XCTAssertEqual(second.1.fin, 1)
        XCTAssertEqual(second.1.opcode, UInt8(TS_WS_OP_TEXT.rawValue), "a continuation reports its message's opcode")
        XCTAssertEqual(String(decoding: first.2 + second.2, as: UTF8.self), "Hello")
    }

    func testRFCPingAndMaskedPong() {
        XCTAssertEqual(decodeOne([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], server: false).2, Array("Hello".utf8))
        let pong = decodeOne([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        XCTAssertEqual(pong.1.opcode, UInt8(TS_WS_OP_PONG.rawValue))
        XCTAssertEqual(pong.2, Array("Hello".utf8))
    }

    func testEveryLengthClassRoundTripsThroughTheEncoder() {
        for length in [0, 1, 125, 126, 127, 65535, 65536, 300_000] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let mask: [UInt8] = [1, 2, 3, 4]
            var header = [UInt8](repeating: 0, count: 14)
            let headerLength = ts_ws_encode_header(&header, header.count, TS_WS_OP_BINARY, 1, UInt64(length), mask)
            XCTAssertEqual(headerLength, Int32(ts_ws_header_size(UInt64(length), 1)))
            XCTAssertEqual(headerLength, length < 126 ? 6 : length <= 65535 ? 8 : 14)
            var masked = payload
            ts_ws_apply_mask(&masked, masked.count, mask, 0)
            let (used, frame, decoded) = decodeOne(Array(header[0..<Int(headerLength)]) + masked)
            XCTAssertEqual(used, Int64(Int(headerLength) + length), "length \(length)")
            XCTAssertEqual(frame.payload_len, length)
            XCTAssertEqual(decoded, payload, "length \(length)")
        }
    }

    func testRFCHeadersFor256BytesAnd64KiB() {
        var header = [UInt8](repeating: 0, count: 14)
        XCTAssertEqual(ts_ws_encode_header(&header, 14, TS_WS_OP_BINARY, 1, 256, nil), 4)
        XCTAssertEqual(Array(header[0..<4]), [0x82, 0x7E, 0x01, 0x00])
        XCTAssertEqual(ts_ws_encode_header(&header, 14, TS_WS_OP_BINARY, 1, 65536, nil), 10)
        XCTAssertEqual(Array(header[0..<10]), [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])
        XCTAssertEqual(ts_ws_encode_header(&header, 3, TS_WS_OP_BINARY, 1, 256, nil), TS_WS_ENOSPC.rawValue)
    }

    func testMaskingAtAnyOffsetMatchesByteByByte() {
        let mask: [UInt8] = [0xA1, 0xB2, 0xC3, 0xD4]
        let data = (0..<100).map { UInt8($0) }
        for offset in 0..<4 {
            for start in 0..<9 {
                var fast = Array(data[start...])
                ts_ws_apply_mask(&fast, fast.count, mask, UInt64(offset))
                let slow = data[start...].enumerated().map { $0.element ^ mask[($0.offset + offset) & 3] }
                XCTAssertEqual(fast, slow)
            }
        }
    }

    func testPartialInputByteByByteThenManyFramesInOneBuffer() {
        let frame: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        var decoder = ts_ws_decoder()
        ts_ws_decoder_init(&decoder, 1 << 20, 1)
        for count in 0..<frame.count {
            var partial = Array(frame[0..<count])
            var out = ts_ws_frame()
            XCTAssertEqual(ts_ws_decode(&decoder, &partial, partial.count, &out), Int64(TS_WS_EAGAIN.rawValue))
            XCTAssertEqual(out.needed, count < 2 ? 0 : UInt64(frame.count), "prefix of \(count) bytes")
        }
        var three = frame + frame + frame
        var offset = 0
        var messages = 0
        while offset < three.count {
            var out = ts_ws_frame()
            let used = three.withUnsafeMutableBufferPointer { ts_ws_decode(&decoder, $0.baseAddress! + offset, $0.count - offset, &out) }
            XCTAssertGreaterThan(used, 0)
            offset += Int(used)
            messages += 1
        }
        XCTAssertEqual(messages, 3)
    }

    func testProtocolViolationsAreRefusedWith1002() {
        let cases: [(String, [UInt8])] = [
            ("unmasked client frame", [0x81, 0x00]),
            ("reserved bit", [0xC1, 0x80, 0, 0, 0, 0]),
            ("reserved opcode 3", [0x83, 0x80, 0, 0, 0, 0]),
            ("reserved opcode 0xB", [0x8B, 0x80, 0, 0, 0, 0]),
            ("fragmented ping", [0x09, 0x80, 0, 0, 0, 0]),
            ("control frame over 125", [0x89, 0xFE, 0x00, 0x7E]),
            ("continuation without start", [0x80, 0x80, 0, 0, 0, 0]),
            ("non-minimal 16-bit length", [0x82, 0xFE, 0x00, 0x05]),
            ("64-bit length with top bit", [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            ("one-byte close payload", [0x88, 0x81, 0, 0, 0, 0, 0x03]),
            ("close code 1005", [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xED]),
            ("close code 999", [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE7]),
            ("close code 2000", [0x88, 0x82, 0, 0, 0, 0, 0x07, 0xD0]),
        ]
        for (name, bytes) in cases {
            let (result, _, _) = decodeOne(bytes)
            XCTAssertEqual(result, Int64(TS_WS_EPROTO.rawValue), name)
            XCTAssertEqual(ts_ws_error_close_code(Int32(result)), 1002, name)
        }
        let masked = decodeOne([0x81, 0x80, 0, 0, 0, 0], server: false)
        XCTAssertEqual(masked.0, Int64(TS_WS_EPROTO.rawValue), "a client refuses masked server frames")
    }

    func testNewDataFrameInsideFragmentedMessageIs1002ButControlFramesMayInterleave() {
        var decoder = ts_ws_decoder()
        ts_ws_decoder_init(&decoder, 1 << 20, 1)
        XCTAssertGreaterThan(decode([0x01, 0x81, 0, 0, 0, 0, 0x61], decoder: &decoder).0, 0)
        XCTAssertGreaterThan(decode([0x89, 0x80, 0, 0, 0, 0], decoder: &decoder).0, 0, "ping between fragments")
        XCTAssertEqual(decode([0x81, 0x81, 0, 0, 0, 0, 0x62], decoder: &decoder).0, Int64(TS_WS_EPROTO.rawValue))
    }

    func testInvalidUTF8IsRefusedWith1007AcrossFragments() {
        var decoder = ts_ws_decoder()
        ts_ws_decoder_init(&decoder, 1 << 20, 1)
        // "é" (C3 A9) split across two fragments is fine.
        XCTAssertGreaterThan(decode([0x01, 0x81, 0, 0, 0, 0, 0xC3], decoder: &decoder).0, 0)
        XCTAssertGreaterThan(decode([0x80, 0x81, 0, 0, 0, 0, 0xA9], decoder: &decoder).0, 0)
        // A message ending mid-character is not.
        XCTAssertEqual(decodeOne([0x81, 0x81, 0, 0, 0, 0, 0xC3]).0, Int64(TS_WS_EUTF8.rawValue))
        XCTAssertEqual(decodeOne([0x81, 0x82, 0, 0, 0, 0, 0xC0, 0x80]).0, Int64(TS_WS_EUTF8.rawValue), "overlong")
        let badReason = decodeOne([0x88, 0x83, 0, 0, 0, 0, 0x03, 0xE8, 0xFF])
        XCTAssertEqual(badReason.0, Int64(TS_WS_EUTF8.rawValue))
        XCTAssertEqual(ts_ws_error_close_code(Int32(badReason.0)), 1007)
        let binary = decodeOne([0x82, 0x81, 0, 0, 0, 0, 0xFF])
        XCTAssertEqual(binary.0, 7, "binary frames are not UTF-8 checked")
    }

    func testOversizedMessageIsRefusedFromTheHeaderAlone() {
        // Declares 2^40 bytes; only the header is present.
        let (result, _, _) = decodeOne([0x82, 0xFF, 0, 0, 0x01, 0, 0, 0, 0, 0, 1, 2, 3, 4], max: 1 << 20)
        XCTAssertEqual(result, Int64(TS_WS_ETOOBIG.rawValue))
        XCTAssertEqual(ts_ws_error_close_code(Int32(result)), 1009)
        var decoder = ts_ws_decoder()
        ts_ws_decoder_init(&decoder, 10, 1)
        XCTAssertGreaterThan(decode([0x02, 0x86, 0, 0, 0, 0] + [UInt8](repeating: 1, count: 6), decoder: &decoder).0, 0)
        XCTAssertEqual(decode([0x80, 0x85, 0, 0, 0, 0], decoder: &decoder).0, Int64(TS_WS_ETOOBIG.rawValue),
                       "fragments add up against the limit")
    }

    func testCloseFrameCodeAndReason() {
        let (_, frame, _) = decodeOne([0x88, 0x84, 0, 0, 0, 0, 0x03, 0xE9, 0x6F, 0x6B])
        XCTAssertEqual(frame.close_code, 1001)
        XCTAssertEqual(String(decoding: UnsafeRawBufferPointer(start: frame.close_reason, count: frame.close_reason_len), as: UTF8.self), "ok")
        XCTAssertEqual(decodeOne([0x88, 0x80, 0, 0, 0, 0]).1.close_code, 1005)
        var out = [UInt8](repeating: 0, count: 32)
        let length = ts_ws_encode_close(&out, out.count, 1009, "big", 3, nil)
        XCTAssertEqual(Array(out[0..<Int(length)]), [0x88, 0x05, 0x03, 0xF1, 0x62, 0x69, 0x67])
    }

    func testAcceptKeyFromTheRFC() {
        var accept = [CChar](repeating: 0, count: Int(TS_WS_ACCEPT_LEN) + 1)
        XCTAssertEqual(ts_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, &accept), 0)
        XCTAssertEqual(String(cString: accept), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        for bad in ["", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ!=", "dGhlIHNhbXBsZSBub25j", "dGhlIHNhbXBsZSBub25jZXNz"] {
            XCTAssertEqual(ts_ws_accept_key(bad, bad.utf8.count, &accept), TS_WS_EBADKEY.rawValue, bad)
        }
    }

    func testUTF8Validator() {
        func state(_ bytes: [UInt8]) -> UInt32 { ts_utf8_validate(TS_UTF8_ACCEPT, bytes, bytes.count) }
        XCTAssertEqual(state(Array("héllo €𝄞".utf8)), TS_UTF8_ACCEPT)
        for bad: [UInt8] in [[0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xFF]] {
            XCTAssertEqual(state(bad), TS_UTF8_REJECT, "\(bad)")
        }
        let euro = Array("€".utf8)
        let mid = ts_utf8_validate(TS_UTF8_ACCEPT, euro, 1)
        XCTAssertNotEqual(mid, TS_UTF8_ACCEPT)
        XCTAssertNotEqual(mid, TS_UTF8_REJECT)
        XCTAssertEqual(euro.withUnsafeBufferPointer { ts_utf8_validate(mid, $0.baseAddress! + 1, 2) }, TS_UTF8_ACCEPT)
    }
}
