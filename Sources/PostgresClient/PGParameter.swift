import CLibPQ

/// One bound parameter of a statement. Binary values are in network byte
/// order, as PostgreSQL's binary input functions expect.
package struct PGParameter {
    /// The type oid; 0 lets the server infer the type from the statement.
    let oid: Oid
    /// nil is SQL NULL.
    let value: [UInt8]?
    let isBinary: Bool

    /// Text format with the type left to the server (oid 0); nil is NULL.
    package static func text(_ value: String?) -> PGParameter {
        PGParameter(oid: 0, value: value.map { Array($0.utf8) }, isBinary: false)
    }

    package static func int64(_ value: Int64) -> PGParameter {
        binary(oid: PGParameter.int8OID, bytes: withUnsafeBytes(of: value.bigEndian, Array.init))
    }

    package static func int32(_ value: Int32) -> PGParameter {
        binary(oid: PGParameter.int4OID, bytes: withUnsafeBytes(of: value.bigEndian, Array.init))
    }

    package static func bool(_ value: Bool) -> PGParameter {
        binary(oid: PGParameter.boolOID, bytes: [value ? 1 : 0])
    }

    /// Binary format with an explicit type oid. The array is shared, not
    /// copied, until the statement is sent.
    package static func binary(oid: UInt32, bytes: [UInt8]) -> PGParameter {
        PGParameter(oid: Oid(oid), value: bytes, isBinary: true)
    }

    static let boolOID: UInt32 = 16
    static let int8OID: UInt32 = 20
    static let int4OID: UInt32 = 23
}

/// The four parallel arrays PQsendQueryParams takes, built once per
/// statement. Binary values are passed where they are: libpq copies them
/// into its output buffer, so a batch's arrays (hundreds of KiB) are copied
/// once on their way out, not twice. Text values are copied, each followed
/// by a NUL (libpq reads them up to it), into one small buffer.
struct PGParameterArrays {
    private(set) var types: [Oid] = []
    private(set) var lengths: [Int32] = []
    private(set) var formats: [Int32] = []
    private let parameters: [PGParameter]
    /// Where each text value starts in `textStorage`; nil for NULL and for
    /// binary values.
    private var textStarts: [Int?] = []
    /// The text values, each followed by a NUL byte.
    private var textStorage: [UInt8] = []

    /// Fails for values libpq cannot carry: a text value with a NUL byte
    /// (it would be cut short without a word) or one of 2 GiB or more.
    init(_ parameters: [PGParameter]) throws(PGError) {
        self.parameters = parameters
        types.reserveCapacity(parameters.count)
        lengths.reserveCapacity(parameters.count)
        formats.reserveCapacity(parameters.count)
        textStarts.reserveCapacity(parameters.count)
        for (index, parameter) in parameters.enumerated() {
            types.append(parameter.oid)
            formats.append(parameter.isBinary ? 1 : 0)
            guard let value = parameter.value else {
                textStarts.append(nil)
                lengths.append(0)
                continue
            }
            guard value.count < Int32.max else {
                throw PGError(kind: .query, sqlState: nil, message: "parameter $\(index + 1) is 2 GiB or larger")
            }
            lengths.append(Int32(value.count))
            guard !parameter.isBinary else {
                textStarts.append(nil)
                continue
            }
            if value.contains(0) {
                throw PGError(kind: .query, sqlState: nil, message: "text parameter $\(index + 1) contains a NUL byte")
            }
            textStarts.append(textStorage.count)
            textStorage.append(contentsOf: value)
            textStorage.append(0)
        }
    }

    var count: Int32 { Int32(clamping: types.count) }

    /// Calls `body` with the value pointers, valid for the call only.
    func withValues<R>(_ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        textStorage.withUnsafeBytes { text in
            var pointers: [UnsafePointer<CChar>?] = textStarts.map { start in
                start.flatMap { text.baseAddress?.advanced(by: $0).assumingMemoryBound(to: CChar.self) }
            }
            return pinBinaryValues(from: 0, into: &pointers, body)
        }
    }

    /// Sets the pointer of each binary value from `index` on while its
    /// array is held still, then calls `body` inside all of those holds.
    private func pinBinaryValues<R>(from index: Int, into pointers: inout [UnsafePointer<CChar>?],
                                    _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        guard let next = parameters[index...].firstIndex(where: { $0.isBinary && $0.value != nil }),
              let value = parameters[next].value else { return body(pointers) }
        return value.withUnsafeBytes { bytes in
            // An empty array may have no address, and a nil pointer is NULL.
            pointers[next] = (bytes.baseAddress ?? UnsafeRawPointer(PGParameterArrays.emptyValue.utf8Start)).assumingMemoryBound(to: CChar.self)
            return pinBinaryValues(from: next + 1, into: &pointers, body)
        }
    }

    /// Where an empty binary value points: the NUL of a static empty string,
    /// readable for the program's life.
    private static let emptyValue: StaticString = ""
}
