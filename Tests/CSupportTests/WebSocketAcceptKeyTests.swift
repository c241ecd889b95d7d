import CSupport
import XCTest

/// Sec-WebSocket-Accept (RFC 6455 §4.2.2) and the checks on the key.
final class WebSocketAcceptKeyTests: XCTestCase {
    /// ts_ws_accept_key() on the first `length` bytes of `key`: the accept
    /// value with its terminating NUL checked, or the error code.
    private func accept(_ key: String, length: Int? = nil) -> Result<String, AcceptError> {
        var out = [CChar](repeating: 0x7F, count: Int(TS_WS_ACCEPT_LEN) + 1)
        let result = ts_ws_accept_key(key, length ?? key.utf8.count, &out)
        guard result == 0 else { return .failure(AcceptError(code: result)) }
        guard out[Int(TS_WS_ACCEPT_LEN)] == 0 else { return .failure(AcceptError(code: 0)) }
        return .success(String(decoding: out.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    private struct AcceptError: Error, Equatable {
        var code: Int32
    }

    private let badKey = AcceptError(code: TS_WS_EBADKEY.rawValue)

    func testTheRFCExample() {
        XCTAssertEqual(accept("dGhlIHNhbXBsZSBub25jZQ=="), .success("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
    }

    func testOtherKeys() {
        // Bytes 00..0F, and sixteen FF bytes (a key using '/').
        XCTAssertEqual(accept("AAECAwQFBgcICQoLDA0ODw=="), .success("Bz3qJYTGdOe8gUSpLosEdiLKDrk="))
        XCTAssertEqual(accept("/////////////////////w=="), .success("XXpj4jYzLM2yUE0C7TIgMwTQh2g="))
    }

    func testOnlyKeyLengthBytesAreRead() {
        XCTAssertEqual(accept("dGhlIHNhbXBsZSBub25jZQ==, more", length: 24), .success("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
    }

    func testKeysOfTheWrongLengthAreRefused() {
        for key in ["", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===", "dGhlIHNhbXBsZSBub25jZQ==dGhl"] {
            XCTAssertEqual(accept(key), .failure(badKey), key)
        }
        XCTAssertEqual(ts_ws_accept_key(nil, 0, nil), TS_WS_EBADKEY.rawValue)
    }

    func testKeysThatAreNotSixteenBytesAreRefused() {
        XCTAssertEqual(accept("AAECAwQFBgcICQoLDA0O"), .failure(badKey), "15 bytes")
        XCTAssertEqual(accept("AAECAwQFBgcICQoLDA0ODxA="), .failure(badKey), "17 bytes, also 24 characters")
        XCTAssertEqual(accept("AAECAwQFBgcICQoLDA0ODxAR"), .failure(badKey), "18 bytes, also 24 characters")
    }

    func testKeysThatAreNotBase64AreRefused() {
        let cases = [
            "dGhlIHNhbXBsZSBub25jZQ!=",
            "dGhlIHNhbXBsZSBub25jZ!==",
            "dGhlIHNh-XBsZSBub25jZQ==", // the URL-safe alphabet
            "dGhlIHNh_XBsZSBub25jZQ==",
            "dGhlIHNh=XBsZSBub25jZQ==", // padding inside
            "dGhlIHNhbXBsZSBub25jZ===",
            "dGhlIHNh bXBsZSBub25jZ==", // whitespace inside
            "\tdGhlIHNhbXBsZSBub25jZ==", // untrimmed whitespace
            "    dGhlIHNhbXBsZSBub2==",
        ]
        for key in cases {
            XCTAssertEqual(accept(key), .failure(badKey), key)
        }
    }
}
