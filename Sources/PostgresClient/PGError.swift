import CLibPQ
import Foundation

/// Why a statement or a connection attempt failed.
package struct PGError: Error, CustomStringConvertible {
    package enum Kind {
        /// Could not connect, or the connection broke: the outcome of work
        /// in flight is unknown (it may or may not have committed).
        case connection
        /// The server rejected the statement; nothing of it was committed.
        case query
        /// The connection was closed by this process.
        case closed
    }

    package let kind: Kind
    /// The five-character SQLSTATE the server sent, if any.
    package let sqlState: String?
    package let message: String

    package init(kind: Kind, sqlState: String?, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    package var description: String {
        "\(kind)\(sqlState.map { " [\($0)]" } ?? ""): \(message)"
    }
}

extension PGError {
    /// A failed result: the server's primary message and detail, or
    /// libpq's own message for errors raised on this side (which carry no
    /// fields).
    init(kind: Kind, result: OpaquePointer) {
        let primary = PGError.field(result, "M")
        let detail = PGError.field(result, "D")
        let message = primary.map { primary in detail.map { "\(primary) (\($0))" } ?? primary }
            ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        self.init(kind: kind, sqlState: PGError.field(result, "C"), message: message)
    }

    /// FATAL and PANIC errors end the server session: whatever was in
    /// flight is lost with it, which is a connection failure, not a
    /// statement failure.
    static func endsSession(_ result: OpaquePointer) -> Bool {
        let severity = field(result, "V")
        return severity == "FATAL" || severity == "PANIC"
    }

    /// One field of an error or notice (PG_DIAG_*: the macros are character
    /// literals, which Swift does not import).
    static func field(_ result: OpaquePointer, _ code: Unicode.Scalar) -> String? {
        PQresultErrorField(result, Int32(code.value)).map { String(cString: $0) }
    }

    /// libpq's message for the connection, without its trailing newline.
    static func connectionMessage(_ connection: OpaquePointer) -> String {
        let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
        return message.isEmpty ? "connection failed without a message from libpq" : message
    }
}
