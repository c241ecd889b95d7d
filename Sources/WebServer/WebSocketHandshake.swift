import CSupport

enum WebSocketHandshake {
    /// The Sec-WebSocket-Accept value for a valid upgrade request, or the
    /// error response that refuses it (RFC 6455 §4.2.1).
    static func accept(_ request: HTTPRequest) -> Result<String, HTTPResponseError> {
        guard request.headerListContains("upgrade", "websocket"), request.headerListContains("connection", "upgrade") else {
            return .failure(HTTPResponseError(.error(426, "this route accepts WebSocket connections only",
                headers: [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")])))
        }
        guard request.header("sec-websocket-version") == "13" else {
            return .failure(HTTPResponseError(.error(426, "unsupported Sec-WebSocket-Version; this server speaks version 13",
                headers: [("Sec-WebSocket-Version", "13")])))
        }
        guard let key = request.header("sec-websocket-key") else {
            return .failure(HTTPResponseError(.error(400, "missing Sec-WebSocket-Key header")))
        }
        var accept = [CChar](repeating: 0, count: Int(TS_WS_ACCEPT_LEN) + 1)
        let status = key.utf8CString.withUnsafeBufferPointer { chars in
            ts_ws_accept_key(chars.baseAddress, key.utf8.count, &accept)
        }
        guard status == 0 else {
            return .failure(HTTPResponseError(.error(400, "malformed Sec-WebSocket-Key: expected base64 of 16 bytes")))
        }
        return .success(String(cString: accept))
    }

    static func switchingProtocols(accept: String) -> HTTPResponse {
        HTTPResponse(status: 101, headers: [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept),
        ])
    }
}

/// A response that ends a request early, carried as an error.
struct HTTPResponseError: Error {
    let response: HTTPResponse
    init(_ response: HTTPResponse) { self.response = response }
}
