import Foundation

// HTTP: HTTP/1.1 requests and responses on top of the reactor's TCP streams.
//
// Owns request parsing (Debian's http-parser does the byte-level work),
// keep-alive and pipelining, limits and their error statuses, routing and
// static files. Hands WebSocket upgrades to WebSocket/; calls no storage.

/// One parsed HTTP request. Header names are lower-cased.
package struct HTTPRequest {
    package var method: String = ""
    /// The raw request target as sent ("/nodes/logs?peer_id=…").
    package var target: String = ""
    /// The percent-decoded path without the query string.
    package var path: String = ""
    package var query: QueryParameters = QueryParameters()
    package var headers: [(name: String, value: String)] = []
    package var body: [UInt8] = []
    package var keepAlive: Bool = true
    package var isUpgrade: Bool = false
    /// Path parameters filled in by the router ("{id}" segments).
    package var pathParameters: [String: String] = [:]

    package init() {}

    /// The first value of a header, by lower-case name.
    package func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    /// True when a comma-separated header lists `token` (case-insensitive).
    func headerListContains(_ name: String, _ token: String) -> Bool {
        headers.contains { header in
            header.name == name && header.value.split(separator: ",").contains {
                $0.trimmingCharacters(in: .whitespaces).lowercased() == token
            }
        }
    }
}

/// Query-string parameters, percent-decoded, in order of appearance.
package struct QueryParameters {
    package private(set) var pairs: [(name: String, value: String)] = []

    package init() {}

    /// Parses "a=1&b=x%20y"; `+` means space, as browsers encode forms.
    /// Returns nil when a percent escape is malformed or not UTF-8.
    ///
    /// Splits on bytes, not Characters: a combining mark sent raw after '&'
    /// or '=' forms one Character with it, which a Character split would
    /// not see as a separator (found by the query_string fuzz target).
    package init?(parsing query: Substring) {
        for part in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let pieces = part.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(bytes: pieces[0], plusIsSpace: true),
                  let value = percentDecode(bytes: pieces.count > 1 ? pieces[1] : part[part.endIndex...], plusIsSpace: true)
            else { return nil }
            pairs.append((name, value))
        }
    }

    /// The path and the query string of a request target, split at the
    /// first '?' byte (for the same reason as above); the query is nil when
    /// there is no '?'.
    static func splitTarget(_ target: Substring) -> (path: Substring, query: Substring?) {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (target[...], nil) }
        return (target[..<mark], target[target.utf8.index(after: mark)...])
    }

    package subscript(name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }
}

/// Decodes %XX escapes; nil for a malformed escape or invalid UTF-8.
func percentDecode<S: StringProtocol>(_ text: S, plusIsSpace: Bool = false) -> String? {
    percentDecode(bytes: text.utf8, plusIsSpace: plusIsSpace)
}

/// The same on the UTF-8 bytes of a text.
func percentDecode<Text: Collection<UInt8>>(bytes text: Text, plusIsSpace: Bool) -> String? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.count)
    var iterator = text.makeIterator()
    while let byte = iterator.next() {
        switch byte {
        case UInt8(ascii: "%"):
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue)
            else { return nil }
            bytes.append(high << 4 | low)
        case UInt8(ascii: "+") where plusIsSpace:
            bytes.append(UInt8(ascii: " "))
        default:
            bytes.append(byte)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}
