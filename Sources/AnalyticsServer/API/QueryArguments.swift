import CSupport
import WebServer

/// The query-string parameters of one request, read strictly: a value that
/// is present but does not parse or is out of range is a 400 naming the
/// parameter, never a silent default.
struct QueryArguments {
    private let query: QueryParameters

    init(_ request: HTTPRequest) {
        query = request.query
    }

    func requiredString(_ name: String) throws(APIError) -> String {
        guard let value = query[name], !value.isEmpty else {
            throw .badRequest("missing required parameter '\(name)'")
        }
        return try storable(value, "parameter '\(name)'")
    }

    /// nil when absent; an empty value counts as given and is refused.
    func optionalString(_ name: String) throws(APIError) -> String? {
        guard let value = query[name] else { return nil }
        guard !value.isEmpty else { throw .badRequest("parameter '\(name)' is empty") }
        return try storable(value, "parameter '\(name)'")
    }

    func integer(_ name: String, default defaultValue: Int64, in range: ClosedRange<Int64>) throws(APIError) -> Int64 {
        guard let text = query[name] else { return defaultValue }
        guard let value = Int64(text), range.contains(value) else {
            throw .badRequest("parameter '\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// nil when absent; otherwise an integer in `range`.
    func optionalInteger(_ name: String, in range: ClosedRange<Int64>) throws(APIError) -> Int64? {
        guard query[name] != nil else { return nil }
        return try integer(name, default: range.lowerBound, in: range)
    }

    /// nil when absent; otherwise `true` or `false`.
    func boolean(_ name: String) throws(APIError) -> Bool? {
        guard let text = query[name] else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default: throw .badRequest("parameter '\(name)' must be true or false")
        }
    }

    /// A timestamp as `2020-03-25T13:17:09[.ffffff]` (UTC) or RFC 3339,
    /// returned in the naive UTC form PostgreSQL's `timestamp` reads.
    func timestamp(_ name: String) throws(APIError) -> String? {
        guard let text = query[name] else { return nil }
        guard let value = APITime.normalise(text) else {
            throw .badRequest("parameter '\(name)' must be a timestamp such as 2020-03-25T13:17:09.008533 or RFC 3339")
        }
        return value
    }
}

/// PostgreSQL text cannot hold NUL: refusing it here makes it a 400 naming
/// the input instead of a failed statement.
func storable(_ value: String, _ what: String) throws(APIError) -> String {
    guard !value.utf8.contains(0) else { throw .badRequest("\(what) contains a NUL character") }
    return value
}

/// Path parameters.
enum PathArguments {
    static func string(_ request: HTTPRequest, _ name: String) throws(APIError) -> String {
        try storable(request.pathParameters[name] ?? "", "path parameter '\(name)'")
    }

    /// A positive 32-bit id (the tables' serial columns).
    static func id(_ request: HTTPRequest, _ name: String = "id") throws(APIError) -> Int32 {
        guard let text = request.pathParameters[name], let value = Int32(text), value > 0 else {
            throw .badRequest("path parameter '\(name)' must be a positive integer")
        }
        return value
    }
}

/// Timestamps as the API reads and writes them.
enum APITime {
    /// PostgreSQL expression formatting a `timestamp` column the way the
    /// original's clients parse it: 2020-03-25T13:17:09.008533.
    static func sql(_ column: String) -> String {
        "to_char(\(column), 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    }

    /// Parses a naive-UTC or RFC 3339 timestamp and writes it back as naive
    /// UTC with six fraction digits; nil when it does not parse or its year
    /// is 0000, 0001 or 9999. Those years are refused as written, before
    /// the offset is applied, so that what is accepted does not depend on
    /// the offset: "0001-01-01T00:30:00+01:00" would be in year 0, which
    /// PostgreSQL does not have (a database error instead of a 400), and
    /// "9999-12-31T23:30:00-01:00" in year 10000. The OpenAPI document says
    /// the same (TimestampInput).
    static func normalise(_ text: String) -> String? {
        guard !["0000-", "0001-", "9999-"].contains(where: { text.hasPrefix($0) }) else { return nil }
        var micros: Int64 = 0
        let parsed = text.withCString { ts_time_parse($0, text.utf8.count, TS_TIME_ALLOW_NAIVE, &micros) }
        guard parsed == 0 else { return nil }
        var out = [CChar](repeating: 0, count: Int(TS_TIME_FORMAT_LEN) + 1)
        guard ts_time_format(micros, &out) == 0 else { return nil }
        return String(cString: out)
    }
}
