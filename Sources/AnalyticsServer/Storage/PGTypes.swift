// Storage: PostgreSQL through libpq, driven by the event loop.
//
// Owns connections (non-blocking connect, pipeline mode, results read as
// they arrive), pools with reconnect and backoff, statement queues,
// migrations, purge and the embedded PostgreSQL. Knows SQL, not HTTP.
import CLibPQ

/// One bound parameter of a statement.
public struct PGParameter {
    let oid: Oid
    let bytes: [UInt8]?
    let isBinary: Bool

    /// Text format with the type left to the server (oid 0); nil is NULL.
    /// libpq reads text values up to a NUL, so one is appended.
    public static func text(_ value: String?) -> PGParameter {
        PGParameter(oid: 0, bytes: value.map { Array($0.utf8) + [0] }, isBinary: false)
    }

    public static func int64(_ value: Int64) -> PGParameter {
        binary(oid: 20, bytes: withUnsafeBytes(of: value.bigEndian, Array.init))
    }

    public static func int32(_ value: Int32) -> PGParameter {
        binary(oid: 23, bytes: withUnsafeBytes(of: value.bigEndian, Array.init))
    }

    public static func bool(_ value: Bool) -> PGParameter {
        binary(oid: 16, bytes: [value ? 1 : 0])
    }

    /// Binary format with an explicit type oid.
    public static func binary(oid: UInt32, bytes: [UInt8]) -> PGParameter {
        PGParameter(oid: Oid(oid), bytes: bytes, isBinary: true)
    }
}

public struct PGError: Error, CustomStringConvertible {
    public enum Kind {
        /// Could not connect, or the connection broke: the outcome of work
        /// in flight is unknown.
        case connection
        /// The server rejected the statement.
        case query
        /// The connection was closed by this process.
        case closed
    }

    public let kind: Kind
    public let sqlState: String?
    public let message: String

    public init(kind: Kind, sqlState: String?, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        "\(kind)\(sqlState.map { " [\($0)]" } ?? ""): \(message)"
    }
}

/// A statement's result, copied out of the PGresult (which is cleared at
/// once): text values in one flat array, row by row.
public struct PGRows {
    public let columnNames: [String]
    public let count: Int
    public let affectedRows: Int
    private let values: [String?]

    init(_ result: OpaquePointer) {
        let rows = Int(PQntuples(result)), columns = Int(PQnfields(result))
        columnNames = (0..<columns).map { String(cString: PQfname(result, Int32($0))) }
        count = rows
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
        var values: [String?] = []
        values.reserveCapacity(rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                if PQgetisnull(result, Int32(row), Int32(column)) != 0 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
        }
        self.values = values
    }

    public func string(_ row: Int, _ column: Int) -> String? {
        guard row < count, column < columnNames.count else { return nil }
        return values[row * columnNames.count + column]
    }

    public func string(_ row: Int, _ name: String) -> String? {
        guard let column = columnNames.firstIndex(of: name) else { return nil }
        return string(row, column)
    }
}
