import CJansson
import Glibc
/// The two shapes nodes send telemetry in (both accepted by the server).
package enum WireForm: String, CaseIterable {
    /// Older nodes: `{"msg": …, "ts": …, fields…}`; the socket is the node.
    case flat
    /// Newer nodes: `{"id": N, "ts": …, "payload": {"msg": …, fields…}}`.
    case wrapped
}

/// The JSON text of one message with placeholder `ts` and `loadgen_seq`
/// values at known byte offsets, patched per send.
///
/// `loadgen_seq` is the message's number on its node (0, 1, 2, … across
/// reconnects): stored rows carry it, so `--verify` can tell a missing
/// message from a duplicated one. It is a JSON number right-aligned in
/// `sequenceWidth` bytes (leading spaces are JSON whitespace).
package struct MessageText {
    package static let sequenceWidth = 20
    package static let sequenceField = "loadgen_seq"
    /// The node id every wrapped message uses; one socket is one node.
    static let wrappedNodeID = 1

    package let bytes: [UInt8]
    package let timestampOffset: Int
    package let sequenceOffset: Int
    /// Where the block numbers of `ChainHeight.members` are, and their
    /// offset from the best block.
    package let heightOffsets: [(at: Int, offset: Int64)]
    /// Sent in a binary frame, as current nodes send the wrapped form
    /// (older nodes sent the flat form as text).
    package let binary: Bool

    /// `numbered`: the block numbers of `ChainHeight.members` follow the
    /// run's chain clock (patched per send); false for messages built with
    /// a node's own heights.
    package init(kind: String, members: [(name: String, json: String)], wire: WireForm, numbered: Bool = true) {
        var text = ""
        func append(_ piece: String) { text += piece }
        let kindJSON = MessageText.quoted(kind)
        var timestampAt = 0, sequenceAt = 0
        func placeholders(timestamp: Bool) {
            if timestamp {
                append("\"ts\":\"")
                timestampAt = text.utf8.count
                append(String(repeating: "0", count: WallClock.textLength))
                append("\",")
            }
        }
        switch wire {
        case .flat:
            append("{\"msg\":\(kindJSON),")
            placeholders(timestamp: true)
        case .wrapped:
            append("{\"id\":\(MessageText.wrappedNodeID),")
            placeholders(timestamp: true)
            append("\"payload\":{\"msg\":\(kindJSON),")
        }
        append("\"\(MessageText.sequenceField)\":")
        sequenceAt = text.utf8.count
        append(String(repeating: " ", count: MessageText.sequenceWidth - 1) + "0")
        var heights: [(at: Int, offset: Int64)] = []
        let patched = numbered ? ChainHeight.members[kind] ?? [] : []
        for member in members {
            append(",\(MessageText.quoted(member.name)):")
            guard let height = patched.first(where: { $0.name == member.name }),
                  let quoted = MessageText.numberForm(member.json) else {
                append(member.json)
                continue
            }
            if quoted { append("\"") }
            heights.append((text.utf8.count, height.offset))
            append(String(repeating: "0", count: ChainHeight.digits))
            if quoted { append("\"") }
        }
        append(wire == .wrapped ? "}}" : "}")
        bytes = Array(text.utf8)
        timestampOffset = timestampAt
        sequenceOffset = sequenceAt
        heightOffsets = heights
        binary = wire == .wrapped
    }

    /// Whether a catalogue value that is a block number is a JSON string
    /// (true) or a JSON number (false); nil when it is neither.
    static func numberForm(_ json: String) -> Bool? {
        let digits = json.hasPrefix("\"") && json.hasSuffix("\"") && json.count >= 2 ? json.dropFirst().dropLast() : Substring(json)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return digits.count != json.count
    }

    /// A JSON string literal, escaped by Jansson (off the hot path: frames
    /// are built once per node and kind).
    static func quoted(_ string: String) -> String {
        guard let value = json_stringn(string, string.utf8.count) else { return "\"\"" }
        defer { json_decref(value) }
        guard let text = json_dumps(value, Int(JSON_ENCODE_ANY)) else { return "\"\"" }
        defer { free(text) }
        return String(cString: text)
    }
}
