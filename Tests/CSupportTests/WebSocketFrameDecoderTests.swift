import CSupport
import XCTest

private let eagain = Int64(TS_WS_EAGAIN.rawValue)
private let eproto = Int64(TS_WS_EPROTO.rawValue)
private let eutf8 = Int64(TS_WS_EUTF8.rawValue)
private let etoobig = Int64(TS_WS_ETOOBIG.rawValue)

private let text = UInt8(TS_WS_OP_TEXT.rawValue)
private let binary = UInt8(TS_WS_OP_BINARY.rawValue)
private let close = UInt8(TS_WS_OP_CLOSE.rawValue)
private let ping = UInt8(TS_WS_OP_PING.rawValue)
private let pong = UInt8(TS_WS_OP_PONG.rawValue)

/// The mask key of the RFC 6455 §5.7 examples.
private let rfcMask: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]

/// What one ts_ws_decode() call reported, copied out of the buffer it used.
private struct Decoded {
    var result: Int64
    var opcode: UInt8 = 0
    var first: UInt8 = 0
    var fin: UInt8 = 0
    var payload: [UInt8] = []
    /// Where frame.payload pointed, counted from the start of the buffer.
    var payloadOffset = -1
    var closeCode: UInt16 = 0
    var closeReason: [UInt8] = []
    var needed: UInt64 = 0
    /// The buffer after the call (payloads are unmasked in place).
    var buffer: [UInt8] = []
}

/// A decoder plus the code to call it on a copy of some bytes.
private struct TestDecoder {
    var state = ts_ws_decoder()

    init(server: Bool = true, maxMessage: UInt64 = 1 << 20) {
        ts_ws_decoder_init(&state, maxMessage, server ? 1 : 0)
    }

    mutating func decode(_ bytes: [UInt8]) -> Decoded {
        var buffer = bytes
        var frame = ts_ws_frame()
        var decoded = buffer.withUnsafeMutableBufferPointer { buf -> Decoded in
            let result = ts_ws_decode(&state, buf.baseAddress, buf.count, &frame)
            var out = Decoded(result: result, needed: frame.needed)
            guard result > 0, let base = buf.baseAddress else { return out }
            out.opcode = frame.opcode
            out.first = frame.first
            out.fin = frame.fin
            out.payload = Array(UnsafeBufferPointer(start: frame.payload, count: frame.payload_len))
            out.payloadOffset = frame.payload.map { $0 - base } ?? -1
            out.closeCode = frame.close_code
            out.closeReason = Array(UnsafeBufferPointer(start: frame.close_reason, count: frame.close_reason_len))
            return out
        }
        decoded.buffer = buffer
        return decoded
    }

    /// The decoder's state as bytes, to show that a call left it alone.
    var snapshot: [UInt8] { withUnsafeBytes(of: state) { Array($0) } }
}

private func decodeOne(_ bytes: [UInt8], server: Bool = true, maxMessage: UInt64 = 1 << 20) -> Decoded {
    var decoder = TestDecoder(server: server, maxMessage: maxMessage)
    return decoder.decode(bytes)
}

/// A frame built byte by byte (independently of the encoder under test):
/// the first header byte as given, the shortest length form, the mask key
/// and the payload masked with it.
private func frame(_ firstByte: UInt8, _ payload: [UInt8], mask: [UInt8]? = rfcMask) -> [UInt8] {
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    var bytes = [firstByte]
    switch payload.count {
    case ..<126:
        bytes.append(maskBit | UInt8(payload.count))
    case ...0xFFFF:
        bytes += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    default:
        bytes.append(maskBit | 127)
        bytes += (0..<8).reversed().map { UInt8((UInt64(payload.count) >> (8 * UInt64($0))) & 0xFF) }
    }
    guard let mask else { return bytes + payload }
    return bytes + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
}

/// A masked close frame carrying `code` and `reason`.
private func closeFrame(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
    frame(0x88, [UInt8(code >> 8), UInt8(code & 0xFF)] + reason)
}

/// The decoder against hand-built frames: the RFC 6455 §5.7 examples and
/// every rule RFC 6455 sets for a receiver.
final class WebSocketFrameDecoderTests: XCTestCase {
    // MARK: RFC 6455 §5.7 examples

    func testRFCSingleFrameUnmaskedTextOnAClient() {
        let decoded = decodeOne([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], server: false)
        XCTAssertEqual(decoded.result, 7)
        XCTAssertEqual(decoded.opcode, text)
        XCTAssertEqual(decoded.first, 1)
        XCTAssertEqual(decoded.fin, 1)
        XCTAssertEqual(decoded.payload, Array("Hello".utf8))
        XCTAssertEqual(decoded.payloadOffset, 2, "the payload points into the caller's buffer")
    }

    func testRFCSingleFrameMaskedTextIsUnmaskedInPlace() {
        let decoded = decodeOne([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        XCTAssertEqual(decoded.result, 11)
        XCTAssertEqual(decoded.opcode, text)
        XCTAssertEqual(decoded.payload, Array("Hello".utf8))
        XCTAssertEqual(decoded.payloadOffset, 6)
        XCTAssertEqual(decoded.buffer, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d] + Array("Hello".utf8))
    }

    func testRFCFragmentedUnmaskedText() {
        var decoder = TestDecoder(server: false)
        let first = decoder.decode([0x01, 0x03, 0x48, 0x65, 0x6c])
        XCTAssertEqual(first.result, 5)
        XCTAssertEqual(first.opcode, text)
        XCTAssertEqual(first.first, 1)
        XCTAssertEqual(first.fin, 0)
        XCTAssertEqual(first.payload, Array("Hel".utf8))
        let last = decoder.decode([0x80, 0x02, 0x6c, 0x6f])
        XCTAssertEqual(last.result, 4)
        XCTAssertEqual(last.opcode, text, "a continuation reports the opcode of its message")
        XCTAssertEqual(last.first, 0)
        XCTAssertEqual(last.fin, 1)
        XCTAssertEqual(last.payload, Array("lo".utf8))
    }

    func testRFCUnmaskedPingOnAClient() {
        let decoded = decodeOne([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], server: false)
        XCTAssertEqual(decoded.result, 7)
        XCTAssertEqual(decoded.opcode, ping)
        XCTAssertEqual(decoded.fin, 1)
        XCTAssertEqual(decoded.first, 0, "first marks data messages only")
        XCTAssertEqual(decoded.payload, Array("Hello".utf8))
    }

    func testRFCMaskedPongOnAServer() {
        let decoded = decodeOne([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        XCTAssertEqual(decoded.result, 11)
        XCTAssertEqual(decoded.opcode, pong)
        XCTAssertEqual(decoded.payload, Array("Hello".utf8))
    }

    func testRFCBinaryFramesOf256BytesAnd64KiB() {
        let small = (0..<256).map { UInt8($0) }
        let decodedSmall = decodeOne([0x82, 0x7E, 0x01, 0x00] + small, server: false)
        XCTAssertEqual(decodedSmall.result, 260)
        XCTAssertEqual(decodedSmall.opcode, binary)
        XCTAssertEqual(decodedSmall.payload, small)

        let large = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let decodedLarge = decodeOne([0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00] + large, server: false)
        XCTAssertEqual(decodedLarge.result, 65546)
        XCTAssertEqual(decodedLarge.payload, large)
    }

    // MARK: Lengths

    func testEveryLengthFormAtItsBoundaries() {
        for (length, headerSize) in [(0, 6), (1, 6), (125, 6), (126, 8), (127, 8), (65535, 8), (65536, 14), (65537, 14)] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
            let decoded = decodeOne(frame(0x82, payload))
            XCTAssertEqual(decoded.result, Int64(headerSize + length), "length \(length)")
            XCTAssertEqual(decoded.payloadOffset, headerSize, "length \(length)")
            XCTAssertEqual(decoded.payload, payload, "length \(length)")
        }
    }

    func testLengthsNotInTheirShortestFormAreProtocolErrors() {
        let cases: [(String, [UInt8])] = [
            ("0 in 16 bits", [0x82, 0xFE, 0x00, 0x00]),
            ("125 in 16 bits", [0x82, 0xFE, 0x00, 0x7D]),
            ("0 in 64 bits", [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0]),
            ("125 in 64 bits", [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x7D]),
            ("126 in 64 bits", [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x7E]),
            ("65535 in 64 bits", [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
        ]
        for (name, header) in cases {
            // Refused as soon as the length is readable, mask key or not.
            XCTAssertEqual(decodeOne(header).result, eproto, name)
            XCTAssertEqual(decodeOne(header + rfcMask + [UInt8](repeating: 0, count: 200)).result, eproto, name)
        }
    }

    func testA64BitLengthWithTheTopBitSetIsAProtocolError() {
        let maxMessage = UInt64.max // so that the size limit cannot decide first
        XCTAssertEqual(decodeOne([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0], maxMessage: maxMessage).result, eproto)
        XCTAssertEqual(decodeOne([0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], maxMessage: maxMessage).result, eproto)
        // The largest legal length is merely incomplete.
        let largest = decodeOne([0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + rfcMask, maxMessage: maxMessage)
        XCTAssertEqual(largest.result, eagain)
        XCTAssertEqual(largest.needed, 14 + (UInt64.max >> 1))
    }

    // MARK: Masking

    func testAServerRefusesUnmaskedFrames() {
        for bytes: [UInt8] in [[0x81, 0x00], [0x82, 0x01, 0x00], [0x88, 0x00], [0x89, 0x00], [0x8A, 0x00]] {
            XCTAssertEqual(decodeOne(bytes).result, eproto, "\(bytes)")
        }
    }

    func testAClientRefusesMaskedFrames() {
        for first: UInt8 in [0x81, 0x82, 0x88, 0x89, 0x8A] {
            XCTAssertEqual(decodeOne(frame(first, []), server: false).result, eproto, "first byte \(first)")
        }
    }

    // MARK: Reserved bits and opcodes

    func testReservedBitsAreProtocolErrors() {
        for rsv: UInt8 in [0x40, 0x20, 0x10, 0x70] {
            XCTAssertEqual(decodeOne(frame(0x81 | rsv, Array("a".utf8))).result, eproto, "server, rsv \(rsv)")
            XCTAssertEqual(decodeOne(frame(0x89 | rsv, [])).result, eproto, "ping, rsv \(rsv)")
            XCTAssertEqual(decodeOne(frame(0x81 | rsv, Array("a".utf8), mask: nil), server: false).result, eproto,
                           "client, rsv \(rsv)")
        }
    }

    func testReservedOpcodesAreProtocolErrors() {
        for opcode: UInt8 in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            XCTAssertEqual(decodeOne(frame(0x80 | opcode, [])).result, eproto, "opcode \(opcode)")
            XCTAssertEqual(decodeOne(frame(opcode, [])).result, eproto, "opcode \(opcode) without fin")
        }
    }

    // MARK: Control frames

    func testFragmentedControlFramesAreProtocolErrors() {
        for opcode: UInt8 in [0x8, 0x9, 0xA] {
            XCTAssertEqual(decodeOne(frame(opcode, [])).result, eproto, "opcode \(opcode)")
        }
    }

    func testControlFramesOver125BytesAreProtocolErrors() {
        for first: UInt8 in [0x88, 0x89, 0x8A] {
            // 126 bytes in the 16-bit form, judged from the first two bytes.
            XCTAssertEqual(decodeOne([first, 0xFE]).result, eproto, "first byte \(first)")
            XCTAssertEqual(decodeOne(frame(first, [UInt8](repeating: 0x61, count: 126))).result, eproto)
            XCTAssertEqual(decodeOne([first, 0xFF]).result, eproto, "64-bit form, first byte \(first)")
        }
        let largest = decodeOne(frame(0x89, [UInt8](repeating: 0x61, count: 125)))
        XCTAssertEqual(largest.result, 131)
        XCTAssertEqual(largest.payload.count, 125)
    }

    // MARK: Fragmentation

    func testAContinuationWithoutAnOpenMessageIsAProtocolError() {
        XCTAssertEqual(decodeOne(frame(0x80, Array("a".utf8))).result, eproto)
        XCTAssertEqual(decodeOne(frame(0x00, Array("a".utf8))).result, eproto)

        var decoder = TestDecoder()
        XCTAssertEqual(decoder.decode(frame(0x81, Array("done".utf8))).result, 10)
        XCTAssertEqual(decoder.decode(frame(0x80, Array("more".utf8))).result, eproto, "the message was already complete")
    }

    func testANewDataMessageWhileOneIsOpenIsAProtocolError() {
        for (opening, intruder) in [(UInt8(0x01), UInt8(0x81)), (0x01, 0x82), (0x02, 0x81), (0x02, 0x02)] {
            var decoder = TestDecoder()
            XCTAssertEqual(decoder.decode(frame(opening, Array("a".utf8))).result, 7)
            XCTAssertEqual(decoder.decode(frame(intruder, Array("b".utf8))).result, eproto, "\(opening) then \(intruder)")
        }
    }

    func testControlFramesMayComeBetweenFragments() {
        var decoder = TestDecoder()
        let opening = decoder.decode(frame(0x01, Array("Hel".utf8)))
        XCTAssertEqual(opening.result, 9)
        XCTAssertEqual(opening.fin, 0)

        let pinged = decoder.decode(frame(0x89, Array("p".utf8)))
        XCTAssertEqual(pinged.result, 7)
        XCTAssertEqual(pinged.opcode, ping)
        XCTAssertEqual(pinged.payload, Array("p".utf8))
        XCTAssertEqual(decoder.decode(frame(0x8A, [])).opcode, pong)

        let last = decoder.decode(frame(0x80, Array("lo".utf8)))
        XCTAssertEqual(last.result, 8)
        XCTAssertEqual(last.opcode, text)
        XCTAssertEqual(last.first, 0)
        XCTAssertEqual(last.fin, 1)
        XCTAssertEqual(last.payload, Array("lo".utf8))
    }

    func testACloseFrameMayComeBetweenFragments() {
        var decoder = TestDecoder()
        XCTAssertEqual(decoder.decode(frame(0x02, [1, 2, 3])).result, 9)
        let closed = decoder.decode(closeFrame(1001))
        XCTAssertEqual(closed.result, 8)
        XCTAssertEqual(closed.closeCode, 1001)
    }

    // MARK: Close frames

    func testCloseWithoutPayloadReports1005() {
        let decoded = decodeOne([0x88, 0x80] + rfcMask)
        XCTAssertEqual(decoded.result, 6)
        XCTAssertEqual(decoded.opcode, close)
        XCTAssertEqual(decoded.closeCode, 1005)
        XCTAssertEqual(decoded.closeReason, [])
    }

    func testCloseCodeAndReason() {
        // 1000 "bye", masked with the RFC key.
        let decoded = decodeOne([0x88, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x34, 0x12, 0x43, 0x44, 0x52])
        XCTAssertEqual(decoded.result, 11)
        XCTAssertEqual(decoded.closeCode, 1000)
        XCTAssertEqual(decoded.closeReason, Array("bye".utf8))
        XCTAssertEqual(decoded.payload, [0x03, 0xE8] + Array("bye".utf8))

        let codeOnly = decodeOne(closeFrame(4999))
        XCTAssertEqual(codeOnly.closeCode, 4999)
        XCTAssertEqual(codeOnly.closeReason, [])
    }

    func testAOneByteClosePayloadIsAProtocolError() {
        XCTAssertEqual(decodeOne(frame(0x88, [0x03])).result, eproto)
    }

    func testCloseCodesAPeerMaySend() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            let decoded = decodeOne(closeFrame(code, Array("why".utf8)))
            XCTAssertEqual(decoded.result, 11, "code \(code)")
            XCTAssertEqual(decoded.closeCode, code)
            XCTAssertEqual(decoded.closeReason, Array("why".utf8))
        }
    }

    func testCloseCodesAPeerMayNotSendAreProtocolErrors() {
        for code: UInt16 in [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            XCTAssertEqual(decodeOne(closeFrame(code)).result, eproto, "code \(code)")
        }
    }

    func testACloseReasonMustBeUTF8() {
        for reason: [UInt8] in [[0xFF], [0xC3], [0xC0, 0x80], [0x61, 0xED, 0xA0, 0x80]] {
            let decoded = decodeOne(closeFrame(1000, reason))
            XCTAssertEqual(decoded.result, eutf8, "\(reason)")
        }
        XCTAssertEqual(decodeOne(closeFrame(1000, Array("é €".utf8))).closeReason, Array("é €".utf8))
    }

    // MARK: UTF-8 of text messages

    func testTextMayBeSplitInsideACharacterAcrossFragments() {
        var decoder = TestDecoder()
        // "€" is E2 82 AC: one byte per fragment, then a 4-byte character split 1 + 3.
        XCTAssertEqual(decoder.decode(frame(0x01, [0xE2])).result, 7)
        XCTAssertEqual(decoder.decode(frame(0x00, [0x82])).result, 7)
        XCTAssertEqual(decoder.decode(frame(0x00, [0xAC, 0xF0])).result, 8)
        let last = decoder.decode(frame(0x80, [0x9D, 0x84, 0x9E]))
        XCTAssertEqual(last.result, 9)
        XCTAssertEqual(last.payload, [0x9D, 0x84, 0x9E])
    }

    func testTextMustEndOnACharacterBoundary() {
        XCTAssertEqual(decodeOne(frame(0x81, [0x61, 0xE2, 0x82])).result, eutf8, "a single frame")

        var decoder = TestDecoder()
        XCTAssertEqual(decoder.decode(frame(0x01, [0x61, 0xE2])).result, 8)
        XCTAssertEqual(decoder.decode(frame(0x80, [0x82])).result, eutf8, "the final fragment")
    }

    func testInvalidTextIsRefusedInTheFragmentThatHasIt() {
        var decoder = TestDecoder()
        XCTAssertEqual(decoder.decode(frame(0x01, Array("ok".utf8))).result, 8)
        XCTAssertEqual(decoder.decode(frame(0x00, [0x61, 0xFF])).result, eutf8, "not final, still refused")

        var split = TestDecoder()
        XCTAssertEqual(split.decode(frame(0x01, [0xE0])).result, 7)
        XCTAssertEqual(split.decode(frame(0x00, [0x80, 0x80])).result, eutf8, "an overlong form split across fragments")

        XCTAssertEqual(decodeOne(frame(0x81, [0xED, 0xA0, 0x80])).result, eutf8, "a surrogate")
    }

    func testEachTextMessageStartsAtACharacterBoundary() {
        var decoder = TestDecoder()
        XCTAssertEqual(decoder.decode(frame(0x01, [0xC3])).result, 7)
        XCTAssertEqual(decoder.decode(frame(0x80, [0xA9])).result, 7)
        XCTAssertEqual(decoder.decode(frame(0x81, [0xA9])).result, eutf8, "a continuation byte cannot start a message")
    }

    func testBinaryMessagesAreNotUTF8Checked() {
        var decoder = TestDecoder()
        XCTAssertEqual(decoder.decode(frame(0x02, [0xFF, 0xC3])).result, 8)
        let last = decoder.decode(frame(0x80, [0xED, 0xA0]))
        XCTAssertEqual(last.result, 8)
        XCTAssertEqual(last.opcode, binary)
        XCTAssertEqual(decodeOne(frame(0x89, [0xFF])).result, 7, "nor are pings")
    }

    // MARK: Message size limit

    func testAHeaderDeclaring2To40BytesIsTooBigBeforeAnyPayload() {
        // Client side: the 10 bytes are exactly the (unmasked) header.
        let client = decodeOne([0x82, 0x7F, 0, 0, 0x01, 0, 0, 0, 0, 0], server: false)
        XCTAssertEqual(client.result, etoobig)
        XCTAssertEqual(ts_ws_error_close_code(Int32(client.result)), 1009)
        // Server side: 10 bytes are not even the whole header (mask key missing).
        XCTAssertEqual(decodeOne([0x82, 0xFF, 0, 0, 0x01, 0, 0, 0, 0, 0]).result, etoobig)
        XCTAssertEqual(decodeOne([0x82, 0xFF, 0, 0, 0x01, 0, 0, 0, 0, 0] + rfcMask + [UInt8](repeating: 0, count: 10)).result, etoobig)
    }

    func testAMessageOfExactlyTheLimitIsAccepted() {
        XCTAssertEqual(decodeOne(frame(0x82, [UInt8](repeating: 1, count: 10)), maxMessage: 10).result, 16)
        XCTAssertEqual(decodeOne(frame(0x82, [UInt8](repeating: 1, count: 11)), maxMessage: 10).result, etoobig)
        XCTAssertEqual(decodeOne([0x81, 0x8B], maxMessage: 10).result, etoobig, "decided from two bytes")
    }

    func testFragmentsCountTogetherAgainstTheLimit() {
        var decoder = TestDecoder(maxMessage: 10)
        XCTAssertEqual(decoder.decode(frame(0x02, [UInt8](repeating: 1, count: 6))).result, 12)
        XCTAssertEqual(decoder.decode(frame(0x00, [UInt8](repeating: 2, count: 3))).result, 9)
        // 9 so far: a continuation declaring 2 more is too big with no payload present yet.
        XCTAssertEqual(decoder.decode([0x80, 0x82]).result, etoobig)
        XCTAssertEqual(decoder.decode(frame(0x80, [3])).result, 7, "exactly the limit")
        // The count starts again with the next message.
        XCTAssertEqual(decoder.decode(frame(0x82, [UInt8](repeating: 4, count: 10))).result, 16)
    }

    func testControlFramesDoNotCountAgainstTheLimit() {
        var decoder = TestDecoder(maxMessage: 4)
        XCTAssertEqual(decoder.decode(frame(0x01, Array("abc".utf8))).result, 9)
        XCTAssertEqual(decoder.decode(frame(0x89, [UInt8](repeating: 0x61, count: 125))).result, 131)
        XCTAssertEqual(decoder.decode(closeFrame(1000, [UInt8](repeating: 0x61, count: 123))).result, 131)
        XCTAssertEqual(decoder.decode(frame(0x80, Array("d".utf8))).result, 7, "the message is still 3 + 1 bytes")
    }

    // MARK: Partial input

    func testNeededIsZeroUntilTheHeaderIsCompleteThenTheWholeFrame() {
        for length in [5, 300, 70000] {
            for server in [true, false] {
                let bytes = frame(0x82, [UInt8](repeating: 9, count: length), mask: server ? rfcMask : nil)
                let headerSize = bytes.count - length
                var decoder = TestDecoder(server: server)
                let before = decoder.snapshot
                var buffer = bytes
                buffer.withUnsafeMutableBufferPointer { buf in
                    // Every prefix, on one buffer: an incomplete frame leaves the bytes alone.
                    for count in 0..<buf.count {
                        var out = ts_ws_frame()
                        XCTAssertEqual(ts_ws_decode(&decoder.state, buf.baseAddress, count, &out), eagain)
                        let expected = count < headerSize ? 0 : UInt64(bytes.count)
                        if out.needed != expected {
                            XCTFail("length \(length), server \(server), prefix \(count): needed \(out.needed), expected \(expected)")
                            return
                        }
                    }
                }
                XCTAssertEqual(buffer, bytes, "masked bytes stay masked until the frame is complete")
                XCTAssertEqual(decoder.snapshot, before)
                XCTAssertEqual(decoder.decode(bytes).result, Int64(bytes.count))
            }
        }
    }

    /// A stream exercising fragments, a character split between them, control
    /// frames in between, and a close, with what each frame must decode to.
    private let stream: [(bytes: [UInt8], opcode: UInt8, first: UInt8, fin: UInt8, payload: [UInt8])] = [
        (frame(0x01, [0x48, 0xC3]), text, 1, 0, [0x48, 0xC3]),
        (frame(0x89, Array("ping".utf8)), ping, 0, 1, Array("ping".utf8)),
        (frame(0x00, [0xA9, 0x6C]), text, 0, 0, [0xA9, 0x6C]),
        (frame(0x80, Array("lo".utf8)), text, 0, 1, Array("lo".utf8)),
        (frame(0x82, (0..<300).map { UInt8($0 & 0xFF) }), binary, 1, 1, (0..<300).map { UInt8($0 & 0xFF) }),
        (frame(0x8A, []), pong, 0, 1, []),
        (closeFrame(1000, Array("done".utf8)), close, 0, 1, [0x03, 0xE8] + Array("done".utf8)),
    ]

    func testAStreamFedOneByteAtATime() {
        var decoder = TestDecoder()
        var pending: [UInt8] = []
        var frames: [Decoded] = []
        for byte in stream.flatMap(\.bytes) {
            pending.append(byte)
            while true {
                let before = decoder.snapshot
                let decoded = decoder.decode(pending)
                if decoded.result == eagain {
                    XCTAssertEqual(decoder.snapshot, before, "EAGAIN leaves the decoder alone")
                    break
                }
                XCTAssertGreaterThan(decoded.result, 0)
                guard decoded.result > 0 else { return }
                frames.append(decoded)
                pending.removeFirst(Int(decoded.result))
            }
        }
        XCTAssertEqual(pending, [])
        assertFramesMatchTheStream(frames)
    }

    func testAStreamInOneBuffer() {
        var decoder = TestDecoder()
        var buffer = stream.flatMap(\.bytes)
        var frames: [Decoded] = []
        var offset = 0
        buffer.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            while offset < buf.count {
                var out = ts_ws_frame()
                let used = ts_ws_decode(&decoder.state, base + offset, buf.count - offset, &out)
                XCTAssertGreaterThan(used, 0, "at offset \(offset)")
                guard used > 0 else { return }
                frames.append(Decoded(result: used, opcode: out.opcode, first: out.first, fin: out.fin,
                                      payload: Array(UnsafeBufferPointer(start: out.payload, count: out.payload_len))))
                offset += Int(used)
            }
        }
        XCTAssertEqual(offset, buffer.count)
        assertFramesMatchTheStream(frames)
    }

    private func assertFramesMatchTheStream(_ frames: [Decoded], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(frames.count, stream.count, file: file, line: line)
        for (decoded, expected) in zip(frames, stream) {
            XCTAssertEqual(decoded.result, Int64(expected.bytes.count), file: file, line: line)
            XCTAssertEqual(decoded.opcode, expected.opcode, file: file, line: line)
            XCTAssertEqual(decoded.first, expected.first, file: file, line: line)
            XCTAssertEqual(decoded.fin, expected.fin, file: file, line: line)
            XCTAssertEqual(decoded.payload, expected.payload, file: file, line: line)
        }
    }

    // MARK: Close codes for errors

    func testEachErrorMapsToItsCloseCode() {
        XCTAssertEqual(ts_ws_error_close_code(TS_WS_EPROTO.rawValue), 1002)
        XCTAssertEqual(ts_ws_error_close_code(TS_WS_EUTF8.rawValue), 1007)
        XCTAssertEqual(ts_ws_error_close_code(TS_WS_ETOOBIG.rawValue), 1009)
        for other in [TS_WS_EAGAIN.rawValue, TS_WS_EBADKEY.rawValue, TS_WS_ENOSPC.rawValue, 0, -99] {
            XCTAssertEqual(ts_ws_error_close_code(other), 1011, "error \(other)")
        }
    }
}
