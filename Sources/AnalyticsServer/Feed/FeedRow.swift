import WebServer
// Feed: the /feed WebSocket. Clients subscribe to the messages of one node
// (peer id) and one `msg` type; every (peer id, msg) has one shared cache,
// filled from PostgreSQL, that pushes new rows to its subscribers.

/// What a feed subscription names: one node's messages of one kind.
struct FeedKey: Hashable {
    let peerID: String
    let msg: String
}

/// One stored message as the feed sends it.
struct FeedRow {
    /// tetcore_logs.id: tells rows apart across refreshes.
    let id: Int64
    let createdAtUs: Int64
    /// The message's fields without ts, id, msg, level and line, plus
    /// "created_at", as a JSON object built by PostgreSQL.
    let json: String
    /// The fields aggregates read; nil when absent (or `time` not a number).
    let time: Double?
    let target: String?
    let name: String?

    /// Feed order: by created_at, ties broken by id.
    func precedes(_ other: FeedRow) -> Bool {
        createdAtUs != other.createdAtUs ? createdAtUs < other.createdAtUs : id < other.id
    }
}

enum FeedJSON {
    /// `text` as a JSON string literal.
    static func string(_ text: String) -> String {
        JSONText.quoted(text)
    }

    /// A JSON number; integral values without a fraction, and non-finite
    /// values (which JSON cannot carry) as null.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// A feed message: `{"peer_message": {...}, "data": [items...]}`.
    static func message(_ key: FeedKey, items: [String]) -> String {
        "{\"peer_message\":{\"peer_id\":\(string(key.peerID)),\"msg\":\(string(key.msg))},\"data\":["
            + items.joined(separator: ",") + "]}"
    }

    static func error(_ text: String) -> String {
        "{\"error\":\(string(text))}"
    }
}
