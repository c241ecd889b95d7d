import Foundation

/// A blocking TCP client that speaks HTTP and WebSocket byte by byte, so
/// tests control exactly what goes on the wire.
final class RawClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    /// `receiveBufferBytes` shrinks SO_RCVBUF before connecting (the window
    /// is fixed then), for a peer whose buffers fill at once.
    init(port: Int, receiveBufferBytes: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBufferBytes {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else { throw TestFailure("connect to \(port) failed") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw TestFailure("send failed") }
            offset += written
        }
    }

    /// Reads at least one more byte; false at EOF.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count < 0 { throw TestFailure("recv failed or timed out") }
        if count == 0 { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    func readHTTPResponse() throws -> (status: Int, body: String) {
        let response = try readHTTPResponseWithHeaders()
        return (response.status, response.body)
    }

    /// Status, headers (names in lower case) and body.
    func readHTTPResponseWithHeaders() throws -> (status: Int, headers: [String: String], body: String) {
        let (status, headers) = try readHTTPHead()
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < length { guard try fill() else { break } }
        let body = String(decoding: buffer.prefix(length), as: UTF8.self)
        buffer.removeFirst(min(length, buffer.count))
        return (status, headers, body)
    }

    func readHTTPHead() throws -> (status: Int, headers: [String: String]) {
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let range = buffer.firstRange(of: end) {
                let head = String(decoding: buffer[..<range.lowerBound], as: UTF8.self)
                buffer.removeFirst(range.upperBound)
                let lines = head.components(separatedBy: "\r\n")
                let status = Int(lines[0].split(separator: " ")[1]) ?? 0
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    if parts.count == 2 { headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
                }
                return (status, headers)
            }
            guard try fill() else { throw TestFailure("connection closed before a response head") }
        }
    }

    /// Makes the close (when this client goes away) a TCP reset, as a peer
    /// that crashed or was killed would.
    func resetOnClose() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    /// True when the server has closed the connection (EOF) in time.
    func isClosedByPeer() -> Bool {
        while true {
            guard let more = try? fill() else { return false }
            if !more { return true }
            buffer.removeAll()
        }
    }

    // MARK: WebSocket

    /// An upgrade request; nil leaves a header out.
    static func upgradeRequest(path: String = "/", key: String? = "dGhlIHNhbXBsZSBub25jZQ==",
                               version: String? = "13", headers: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + (key.map { "Sec-WebSocket-Key: \($0)\r\n" } ?? "")
            + (version.map { "Sec-WebSocket-Version: \($0)\r\n" } ?? "")
            + headers + "\r\n"
    }

    func upgrade(path: String = "/", headers: String = "") throws -> Int {
        try send(RawClient.upgradeRequest(path: path, headers: headers))
        return try readHTTPHead().status
    }

    /// A masked client frame.
    static func frame(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8] = [0x11, 0x22, 0x33, 0x44]) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            bytes.append(0x80 | 127)
            bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
        }
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
        return bytes
    }

    func sendText(_ text: String) throws { try send(RawClient.frame(opcode: 1, Array(text.utf8))) }
    func sendBinary(_ text: String) throws { try send(RawClient.frame(opcode: 2, Array(text.utf8))) }

    /// Reads one server frame: (opcode, payload).
    func readFrame() throws -> (opcode: UInt8, payload: [UInt8]) {
        while true {
            if buffer.count >= 2 {
                let length7 = Int(buffer[1] & 0x7F)
                let extra = length7 == 126 ? 2 : length7 == 127 ? 8 : 0
                if buffer.count >= 2 + extra {
                    let length = extra == 0 ? length7 : buffer[2..<(2 + extra)].reduce(0) { $0 << 8 | Int($1) }
                    if buffer.count >= 2 + extra + length {
                        let opcode = buffer[0] & 0x0F
                        let payload = Array(buffer[(2 + extra)..<(2 + extra + length)])
                        buffer.removeFirst(2 + extra + length)
                        return (opcode, payload)
                    }
                }
            }
            guard try fill() else { throw TestFailure("connection closed before a frame") }
        }
    }

    /// Reads frames until a close frame; returns its code.
    func readCloseCode() throws -> UInt16 {
        while true {
            let frame = try readFrame()
            if frame.opcode == 8 {
                return frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : 1005
            }
        }
    }
}
