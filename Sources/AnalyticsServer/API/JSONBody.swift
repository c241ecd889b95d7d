import Foundation
import WebServer

/// A JSON value as decoded from a request body, keeping integers, floats
/// and booleans apart (Foundation's `Any` bridging would not).
enum JSONValue: Codable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// True when a string or key anywhere inside holds U+0000.
    var containsNUL: Bool {
        switch self {
        case .string(let text): return text.utf8.contains(0)
        case .array(let values): return values.contains { $0.containsNUL }
        case .object(let fields): return fields.contains { $0.key.utf8.contains(0) || $0.value.containsNUL }
        default: return false
        }
    }

    /// Compact JSON text (for a jsonb parameter).
    var text: String {
        let data = (try? JSONEncoder().encode(self)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// The JSON object body of a POST, with typed field accessors that answer
/// 400 naming the field.
struct JSONBody {
    static let maxBytes = 4096
    private let fields: [String: JSONValue]

    /// Checks media type (415), size (413) and shape (400).
    init(_ request: HTTPRequest) throws(APIError) {
        let mediaType = request.header("content-type")?.split(separator: ";", maxSplits: 1).first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard mediaType == "application/json" else {
            throw APIError(415, "Content-Type must be application/json")
        }
        guard request.body.count <= JSONBody.maxBytes else {
            throw APIError(413, "request body exceeds \(JSONBody.maxBytes) bytes")
        }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(request.body)) else {
            throw .badRequest("request body is not valid JSON")
        }
        guard case .object(let fields) = value else { throw .badRequest("request body must be a JSON object") }
        self.fields = fields
    }

    /// The field, nil when absent or null.
    private func value(_ name: String) -> JSONValue? {
        guard let value = fields[name], value != .null else { return nil }
        return value
    }

    /// The body has this member, whatever its value (null included).
    func contains(_ name: String) -> Bool { fields[name] != nil }

    private func missing(_ name: String) -> APIError { .badRequest("missing required field '\(name)'") }

    private func wrongType(_ name: String, _ expected: String) -> APIError {
        .badRequest("field '\(name)' must be \(expected)")
    }

    func string(_ name: String) throws(APIError) -> String {
        guard let value = try optionalString(name) else { throw missing(name) }
        return value
    }

    func optionalString(_ name: String) throws(APIError) -> String? {
        guard let value = value(name) else { return nil }
        guard case .string(let text) = value else { throw wrongType(name, "a string") }
        return try storable(text, "field '\(name)'")
    }

    /// An integer that fits the tables' `integer` columns.
    func int32(_ name: String) throws(APIError) -> Int32 {
        guard let value = value(name) else { throw missing(name) }
        guard case .integer(let number) = value, let fitted = Int32(exactly: number) else {
            throw wrongType(name, "an integer from \(Int32.min) to \(Int32.max)")
        }
        return fitted
    }

    /// A JSON object, returned as compact JSON text.
    func object(_ name: String) throws(APIError) -> String {
        guard let value = value(name) else { throw missing(name) }
        guard case .object = value else { throw wrongType(name, "a JSON object") }
        // jsonb refuses \u0000 anywhere in a document.
        guard !value.containsNUL else { throw .badRequest("field '\(name)' contains a NUL character") }
        return value.text
    }

    func timestamp(_ name: String) throws(APIError) -> String {
        guard let value = try optionalTimestamp(name) else { throw missing(name) }
        return value
    }

    func optionalTimestamp(_ name: String) throws(APIError) -> String? {
        guard let text = try optionalString(name) else { return nil }
        guard let value = APITime.normalise(text) else {
            throw wrongType(name, "a timestamp such as 2020-03-25T13:17:09.008533 or RFC 3339")
        }
        return value
    }
}
