import CSupport
import XCTest

private let enospc = Int32(TS_WS_ENOSPC.rawValue)

/// The mask key of the RFC 6455 §5.7 examples.
private let rfcMask: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]

/// ts_ws_encode_header() into a fresh buffer; nil on failure.
private func header(_ opcode: ts_ws_opcode, fin: Bool = true, length: UInt64, mask: [UInt8]? = nil) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: 14)
    let written: Int32 = if let mask {
        ts_ws_encode_header(&out, out.count, opcode, fin ? 1 : 0, length, mask)
    } else {
        ts_ws_encode_header(&out, out.count, opcode, fin ? 1 : 0, length, nil)
    }
    return written < 0 ? nil : Array(out[0..<Int(written)])
}

/// A copy of `data` masked by ts_ws_apply_mask().
private func masked(_ data: [UInt8], _ mask: [UInt8], offset: UInt64 = 0) -> [UInt8] {
    var copy = data
    ts_ws_apply_mask(&copy, copy.count, mask, offset)
    return copy
}

/// ts_ws_encode_close() into a buffer of `capacity` bytes: the frame, or the error.
private func closeFrame(_ code: UInt16, _ reason: String = "", mask: [UInt8]? = nil,
                        capacity: Int = 256) -> Result<[UInt8], TestError> {
    var out = [UInt8](repeating: 0, count: capacity)
    let reasonBytes = Array(reason.utf8)
    let written = reasonBytes.withUnsafeBufferPointer { chars in
        chars.withMemoryRebound(to: CChar.self) { reasonChars in
            if let mask {
                return ts_ws_encode_close(&out, capacity, code, reasonChars.baseAddress, reasonChars.count, mask)
            }
            return ts_ws_encode_close(&out, capacity, code, reasonChars.baseAddress, reasonChars.count, nil)
        }
    }
    return written < 0 ? .failure(TestError(code: written)) : .success(Array(out[0..<Int(written)]))
}

private struct TestError: Error, Equatable {
    var code: Int32
}

/// The encoder and the masking function, byte for byte.
final class WebSocketFrameEncoderTests: XCTestCase {
    // MARK: RFC 6455 §5.7 examples

    func testRFCSingleFrameUnmaskedText() {
        XCTAssertEqual(header(TS_WS_OP_TEXT, length: 5), [0x81, 0x05])
    }

    func testRFCSingleFrameMaskedText() {
        let frame = (header(TS_WS_OP_TEXT, length: 5, mask: rfcMask) ?? []) + masked(Array("Hello".utf8), rfcMask)
        XCTAssertEqual(frame, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    func testRFCFragmentedUnmaskedText() {
        XCTAssertEqual(header(TS_WS_OP_TEXT, fin: false, length: 3), [0x01, 0x03])
        XCTAssertEqual(header(TS_WS_OP_CONTINUATION, fin: true, length: 2), [0x80, 0x02])
    }

    func testRFCUnmaskedPingAndMaskedPong() {
        XCTAssertEqual(header(TS_WS_OP_PING, length: 5), [0x89, 0x05])
        let pong = (header(TS_WS_OP_PONG, length: 5, mask: rfcMask) ?? []) + masked(Array("Hello".utf8), rfcMask)
        XCTAssertEqual(pong, [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    func testRFCBinaryHeadersFor256BytesAnd64KiB() {
        XCTAssertEqual(header(TS_WS_OP_BINARY, length: 256), [0x82, 0x7E, 0x01, 0x00])
        XCTAssertEqual(header(TS_WS_OP_BINARY, length: 65536), [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00])
    }

    // MARK: Headers

    func testHeaderSizes() {
        for (length, size) in [(UInt64(0), 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (1 << 40, 10), (UInt64.max >> 1, 10)] {
            XCTAssertEqual(ts_ws_header_size(length, 0), size, "length \(length)")
            XCTAssertEqual(ts_ws_header_size(length, 1), size + 4, "masked, length \(length)")
        }
    }

    func testEachLengthFormAtItsBoundaries() {
        XCTAssertEqual(header(TS_WS_OP_BINARY, length: 0), [0x82, 0x00])
        XCTAssertEqual(header(TS_WS_OP_BINARY, length: 125), [0x82, 0x7D])
        XCTAssertEqual(header(TS_WS_OP_BINARY, length: 126), [0x82, 0x7E, 0x00, 0x7E])
        XCTAssertEqual(header(TS_WS_OP_BINARY, length: 65535), [0x82, 0x7E, 0xFF, 0xFF])
        XCTAssertEqual(header(TS_WS_OP_BINARY, length: 1 << 40), [0x82, 0x7F, 0, 0, 0x01, 0, 0, 0, 0, 0])
        XCTAssertEqual(header(TS_WS_OP_BINARY, length: 0x0102_0304_0506_0708),
                       [0x82, 0x7F, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08])
    }

    func testMaskedHeadersPutTheKeyAfterTheLength() {
        XCTAssertEqual(header(TS_WS_OP_TEXT, length: 0, mask: rfcMask), [0x81, 0x80, 0x37, 0xfa, 0x21, 0x3d])
        XCTAssertEqual(header(TS_WS_OP_TEXT, length: 126, mask: rfcMask), [0x81, 0xFE, 0x00, 0x7E, 0x37, 0xfa, 0x21, 0x3d])
        XCTAssertEqual(header(TS_WS_OP_TEXT, length: 65536, mask: rfcMask),
                       [0x81, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x37, 0xfa, 0x21, 0x3d])
    }

    func testFinAndOpcodeBitsWithoutReservedBits() {
        XCTAssertEqual(header(TS_WS_OP_BINARY, fin: false, length: 1), [0x02, 0x01])
        XCTAssertEqual(header(TS_WS_OP_CONTINUATION, fin: false, length: 1), [0x00, 0x01])
        XCTAssertEqual(header(TS_WS_OP_CLOSE, length: 2), [0x88, 0x02])
        XCTAssertEqual(header(TS_WS_OP_PONG, length: 0), [0x8A, 0x00])
    }

    func testAHeaderThatDoesNotFitIsRefusedAndNothingIsWritten() {
        for length: UInt64 in [5, 300, 70000] {
            for mask: [UInt8]? in [nil, rfcMask] {
                let size = ts_ws_header_size(length, mask == nil ? 0 : 1)
                var out = [UInt8](repeating: 0xEE, count: 14)
                let short: Int32 = mask.map { ts_ws_encode_header(&out, size - 1, TS_WS_OP_BINARY, 1, length, $0) }
                    ?? ts_ws_encode_header(&out, size - 1, TS_WS_OP_BINARY, 1, length, nil)
                XCTAssertEqual(short, enospc, "length \(length), masked \(mask != nil)")
                XCTAssertEqual(out, [UInt8](repeating: 0xEE, count: 14))
                let exact: Int32 = mask.map { ts_ws_encode_header(&out, size, TS_WS_OP_BINARY, 1, length, $0) }
                    ?? ts_ws_encode_header(&out, size, TS_WS_OP_BINARY, 1, length, nil)
                XCTAssertEqual(exact, Int32(size))
            }
        }
    }

    // MARK: Masking

    func testMaskingStartsAtTheGivenPayloadOffset() {
        let mask: [UInt8] = [0x01, 0x02, 0x04, 0x08]
        let zeros = [UInt8](repeating: 0, count: 10)
        XCTAssertEqual(masked(zeros, mask), [0x01, 0x02, 0x04, 0x08, 0x01, 0x02, 0x04, 0x08, 0x01, 0x02])
        XCTAssertEqual(masked(zeros, mask, offset: 1), [0x02, 0x04, 0x08, 0x01, 0x02, 0x04, 0x08, 0x01, 0x02, 0x04])
        XCTAssertEqual(masked(zeros, mask, offset: 6), [0x04, 0x08, 0x01, 0x02, 0x04, 0x08, 0x01, 0x02, 0x04, 0x08])
        XCTAssertEqual(masked(zeros, mask, offset: (1 << 40) + 3), [0x08, 0x01, 0x02, 0x04, 0x08, 0x01, 0x02, 0x04, 0x08, 0x01])
    }

    func testMaskingTwiceRestoresTheData() {
        let data = Array("The quick brown fox jumps over the lazy dog".utf8)
        XCTAssertEqual(masked(masked(data, rfcMask), rfcMask), data)
        XCTAssertEqual(masked([], rfcMask), [])
    }

    /// The word-at-a-time path against a byte-at-a-time reference, for every
    /// start alignment, mask phase and a range of lengths around the 8-byte
    /// steps.
    func testMaskingMatchesByteByByteForAnyAlignmentOffsetAndLength() {
        let mask: [UInt8] = [0xA1, 0xB2, 0xC3, 0xD4]
        let data = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 7) }
        for start in 0..<8 {
            for offset: UInt64 in [0, 1, 2, 3, 5, 4_294_967_299] {
                for length in 0...(data.count - start) {
                    var buffer = data
                    buffer.withUnsafeMutableBufferPointer { buf in
                        ts_ws_apply_mask(buf.baseAddress.map { $0 + start }, length, mask, offset)
                    }
                    let expected = data.enumerated().map { index, byte -> UInt8 in
                        guard index >= start, index < start + length else { return byte }
                        return byte ^ mask[Int((UInt64(index - start) + offset) % 4)]
                    }
                    if buffer != expected {
                        XCTFail("start \(start), offset \(offset), length \(length)")
                        return
                    }
                }
            }
        }
    }

    func testMaskingInPiecesEqualsMaskingAtOnce() {
        let data = (0..<100).map { UInt8($0) }
        var pieces = data
        pieces.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            ts_ws_apply_mask(base, 13, rfcMask, 0)
            ts_ws_apply_mask(base + 13, 50, rfcMask, 13)
            ts_ws_apply_mask(base + 63, 37, rfcMask, 63)
        }
        XCTAssertEqual(pieces, masked(data, rfcMask))
    }

    // MARK: Close frames

    func testCloseFrameWithCodeAndReason() {
        XCTAssertEqual(closeFrame(1000), .success([0x88, 0x02, 0x03, 0xE8]))
        XCTAssertEqual(closeFrame(1001, "bye"), .success([0x88, 0x05, 0x03, 0xE9, 0x62, 0x79, 0x65]))
        XCTAssertEqual(closeFrame(4000, "é"), .success([0x88, 0x04, 0x0F, 0xA0, 0xC3, 0xA9]))
    }

    func testMaskedCloseFrame() {
        // 03 E8 'o' 'k' XOR 37 FA 21 3D.
        XCTAssertEqual(closeFrame(1000, "ok", mask: rfcMask), .success([0x88, 0x84, 0x37, 0xfa, 0x21, 0x3d, 0x34, 0x12, 0x4e, 0x56]))
    }

    func testCodeZeroWritesAnEmptyClosePayload() {
        XCTAssertEqual(closeFrame(0), .success([0x88, 0x00]))
        XCTAssertEqual(closeFrame(0, "ignored"), .success([0x88, 0x00]))
        XCTAssertEqual(closeFrame(0, mask: rfcMask), .success([0x88, 0x80, 0x37, 0xfa, 0x21, 0x3d]))
    }

    func testAReasonMustFitInAControlFrame() {
        let longest = String(repeating: "r", count: 123)
        guard case .success(let frame) = closeFrame(1000, longest) else { return XCTFail("123 bytes of reason fit") }
        XCTAssertEqual(frame.count, 127)
        XCTAssertEqual(Array(frame[0..<4]), [0x88, 0x7D, 0x03, 0xE8])
        XCTAssertEqual(closeFrame(1000, longest + "r"), .failure(TestError(code: enospc)))
    }

    func testACloseFrameThatDoesNotFitIsRefused() {
        XCTAssertEqual(closeFrame(1000, "bye", capacity: 7), .success([0x88, 0x05, 0x03, 0xE8, 0x62, 0x79, 0x65]))
        XCTAssertEqual(closeFrame(1000, "bye", capacity: 6), .failure(TestError(code: enospc)), "payload does not fit")
        XCTAssertEqual(closeFrame(1000, "bye", capacity: 1), .failure(TestError(code: enospc)), "header does not fit")
        XCTAssertEqual(closeFrame(1000, "bye", mask: rfcMask, capacity: 10), .failure(TestError(code: enospc)))
    }

    // MARK: Round trips

    func testEncodedFramesDecodeOnTheOtherSide() {
        for length in [0, 1, 125, 126, 65535, 65536, 100_000] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            for server in [true, false] {
                // A server decodes what a client sends (masked), and the other way round.
                let mask: [UInt8]? = server ? rfcMask : nil
                var bytes = (header(TS_WS_OP_BINARY, length: UInt64(length), mask: mask) ?? [])
                bytes += mask.map { masked(payload, $0) } ?? payload
                var decoder = ts_ws_decoder()
                ts_ws_decoder_init(&decoder, 1 << 20, server ? 1 : 0)
                var frame = ts_ws_frame()
                let used = ts_ws_decode(&decoder, &bytes, bytes.count, &frame)
                XCTAssertEqual(used, Int64(bytes.count), "length \(length), server \(server)")
                XCTAssertEqual(frame.payload_len, length)
                XCTAssertEqual(Array(bytes[(bytes.count - length)...]), payload, "unmasked in place")
            }
        }
    }
}
