import Foundation
@testable import TestSupport
import XCTest

/// A /feed (or /subscribe) client over a RawClient: sends subscriptions,
/// answers pings, and returns each text message parsed.
final class FeedTestClient {
    let raw: RawClient

    init(port: Int, path: String = "/feed", receiveBufferBytes: Int32? = nil) throws {
        raw = try RawClient(port: port, receiveBufferBytes: receiveBufferBytes)
        let status = try raw.upgrade(path: path)
        guard status == 101 else { throw TestFailure("feed upgrade answered \(status)") }
    }

    func send(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try raw.sendText(String(decoding: data, as: UTF8.self))
    }

    /// The next text message as a JSON object (pings are answered on the way).
    /// `seconds` bounds the whole wait: pings answered on the way do not
    /// extend it.
    func next(timeout seconds: Int = 10) throws -> [String: Any] {
        setTimeout(seconds)
        defer { setTimeout(10) }
        let deadline = Date().addingTimeInterval(TimeInterval(seconds))
        while true {
            guard Date() < deadline else { throw TestFailure("no feed message within \(seconds) s") }
            let frame = try raw.readFrame()
            switch frame.opcode {
            case 0x9: try raw.send(RawClient.frame(opcode: 0xA, frame.payload))
            case 0x1:
                guard let object = try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any] else {
                    throw TestFailure("feed message is not an object")
                }
                return object
            case 0x8:
                let code = frame.payload.count >= 2 ? Int(frame.payload[0]) << 8 | Int(frame.payload[1]) : 1005
                throw TestFailure("feed closed the connection: \(code) \(String(decoding: frame.payload.dropFirst(2), as: UTF8.self))")
            default: continue
            }
        }
    }

    /// The data items of the next message, checking it is about `peer`/`msg`.
    func nextData(peer: String, msg: String, timeout: Int = 10, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let message = try next(timeout: timeout)
        let about = message["peer_message"] as? [String: Any]
        XCTAssertEqual(about?["peer_id"] as? String, peer, file: file, line: line)
        XCTAssertEqual(about?["msg"] as? String, msg, file: file, line: line)
        return message["data"] as? [[String: Any]] ?? []
    }

    /// Collects data items until `count` have arrived.
    func collect(_ count: Int, peer: String, msg: String) throws -> [[String: Any]] {
        var items: [[String: Any]] = []
        while items.count < count { items += try nextData(peer: peer, msg: msg) }
        return items
    }

    /// Returns once the server has handled everything sent before: a
    /// message it answers with an error, and that answer.
    func roundTrip() throws {
        try raw.sendText("not json")
        let answer = try next()
        guard answer["error"] as? String == "a subscription must be a JSON object" else {
            throw TestFailure("expected the error answer, got \(answer)")
        }
    }

    /// Returns once the server has sent something and the socket's receive
    /// buffer has stopped growing (this client never reads meanwhile).
    func waitUntilBuffersAreFull() {
        var previous: Int32 = -1
        eventually(60, "the socket's buffers full") {
            var unread: Int32 = 0
            _ = ioctl(raw.fd, UInt(FIONREAD), &unread)
            defer { previous = unread }
            return unread > 0 && unread == previous
        }
    }

    /// True when no text message arrives within `seconds`.
    func isQuiet(for seconds: Int) -> Bool {
        (try? next(timeout: seconds)) == nil
    }

    private func setTimeout(_ seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(raw.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}

/// Rows written straight into the database, as another instance would.
struct FeedRows {
    let database: TestDatabase

    /// A peer_connections row for `peer`; returns its id.
    func connection(peer: String) throws -> String {
        guard let id = try database.scalar("INSERT INTO peer_connections (ip_addr, peer_id) VALUES ('10.0.0.1', '\(peer)') RETURNING id")
        else { throw TestFailure("no connection id") }
        return id
    }

    /// `count` messages of 2 KB each for `peer`, one a millisecond, half an
    /// hour ago; returns the connection id.
    func bigBacklog(peer: String, rows count: Int) throws -> String {
        let id = try connection(peer: peer)
        let base = FeedTimes.alignedPast(minutesAgo: 30)
        _ = try database.query("""
            INSERT INTO tetcore_logs (peer_connection_id, created_at, logs)
            SELECT \(id), '\(FeedTimes.text(base))'::timestamp + g * interval '1 ms',
                   jsonb_build_object('msg', 'big', 'seq', g, 'filler', repeat('x', 2000))
            FROM generate_series(1, \(count)) g
            """)
        return id
    }

    /// One log row; `fields` is the message without ts.
    func insert(connection: String, createdAtUs: Int64, _ fields: [String: Any]) throws {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
        _ = try database.query("INSERT INTO tetcore_logs (peer_connection_id, created_at, logs) VALUES "
            + "(\(connection), '\(FeedTimes.text(createdAtUs))', '\(json.replacingOccurrences(of: "'", with: "''"))')")
    }
}

enum FeedTimes {
    static var nowUs: Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }

    /// "2020-03-25T13:17:09.008533", UTC.
    static func text(_ us: Int64) -> String {
        let seconds = us / 1_000_000, micros = us % 1_000_000
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))) + String(format: ".%06d", micros)
    }

    /// A whole second some minutes ago, aligned to `multiple` seconds.
    static func alignedPast(minutesAgo: Int64, multiple: Int64 = 10) -> Int64 {
        let seconds = (nowUs / 1_000_000 - minutesAgo * 60) / multiple * multiple
        return seconds * 1_000_000
    }
}
