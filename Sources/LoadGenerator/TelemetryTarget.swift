import CSupport

/// Where nodes connect: a `ws://HOST:PORT[/PATH]` URL.
package struct TelemetryTarget: Equatable {
    package let host: String
    package let port: Int
    package let path: String

    package enum ParseError: Error, CustomStringConvertible {
        case invalid(String)
        package var description: String {
            switch self {
            case let .invalid(url): return "not a ws://HOST[:PORT][/PATH] URL: \(url) (wss:// is not supported)"
            }
        }
    }

    package init(host: String, port: Int, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }

    /// Parses `ws://host[:port][/path]`; the port defaults to 80, an IPv6
    /// host is written in brackets.
    package init(url: String) throws {
        guard url.hasPrefix("ws://") else { throw ParseError.invalid(url) }
        let rest = url.dropFirst(5)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var host = Substring(authority), port = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw ParseError.invalid(url) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else { throw ParseError.invalid(url) }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            guard let value = Int(authority[authority.index(after: colon)...]) else { throw ParseError.invalid(url) }
            host = authority[..<colon]
            port = value
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw ParseError.invalid(url) }
        self.host = String(host)
        self.port = port
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
    }

    /// The same target with `/audit` as its path.
    package var audit: TelemetryTarget {
        TelemetryTarget(host: host, port: port, path: "/audit")
    }
}

/// The client side of the opening handshake (RFC 6455 §4.1). One key for
/// the whole run: the key only proves the server speaks WebSocket, and one
/// key means one Sec-WebSocket-Accept to compute.
struct ClientHandshake {
    let request: [UInt8]
    let expectedAccept: String

    init(target: TelemetryTarget, seed: UInt64) {
        var random = SeededRandom(seed: seed, stream: 4, index: 0)
        let keyBytes = (0..<16).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let key = ClientHandshake.base64(keyBytes)
        let hostHeader = target.host.contains(":") ? "[\(target.host)]:\(target.port)" : "\(target.host):\(target.port)"
        request = Array(("GET \(target.path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
            + "User-Agent: tetcore-loadgen\r\n\r\n").utf8)
        var accept = [CChar](repeating: 0, count: Int(TS_WS_ACCEPT_LEN) + 1)
        _ = ts_ws_accept_key(key, key.utf8.count, &accept)
        expectedAccept = String(cString: accept)
    }

    enum Outcome: Equatable {
        case incomplete
        /// Upgraded; frames start at this offset of the bytes.
        case upgraded(headLength: Int)
        case refused(String)
    }

    /// Reads the server's response head from the start of `bytes`.
    func check(_ bytes: [UInt8]) -> Outcome {
        guard let end = ClientHandshake.headEnd(bytes) else {
            return bytes.count > 16_384 ? .refused("response head over 16 KiB") : .incomplete
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let status = lines.first.map(String.init) ?? ""
        guard status.hasPrefix("HTTP/1.1 101") else {
            let code = status.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
            return .refused("status \(code)")
        }
        let accept = lines.dropFirst().compactMap { line -> String? in
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].lowercased() == "sec-websocket-accept" else { return nil }
            return line[line.index(after: colon)...].trimmingSpaces
        }.first
        guard accept == expectedAccept else { return .refused("wrong Sec-WebSocket-Accept") }
        return .upgraded(headLength: end + 4)
    }

    /// Index of the "\r\n\r\n" that ends the head.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var i = 0
        while i < bytes.count {
            let chunk = bytes[i..<min(i + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for j in 0..<4 {
                out.append(j <= chunk.count ? alphabet[Int(value >> (18 - 6 * UInt32(j)) & 63)] : "=")
            }
            i += 3
        }
        return out
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
