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
/// statement. Every value is copied into one buffer, each followed by a
/// NUL (libpq reads text values up to it), so a statement costs one
/// allocation for its values however many it has, and no pointer outlives
/// the buffer it points into.
struct PGParameterArrays {
    private(set) var types: [Oid] = []
    private(set) var lengths: [Int32] = []
    private(set) var formats: [Int32] = []
    /// Where each value starts in `storage`; nil for NULL.
    private var starts: [Int?] = []
    /// The values, each followed by a NUL byte. libpq copies them into its
    /// output buffer, so a connection hands the same array back for its
    /// next statement (`reusing`): a batch's values are hundreds of KiB, and
    /// a fresh array of that size costs a page fault per 4 KiB.
    private(set) var storage: [UInt8] = []

    /// Fails for values libpq cannot carry: a text value with a NUL byte
    /// (it would be cut short without a word) or one of 2 GiB or more.
    /// `buffer` (left empty) lends its room to `storage`.
    init(_ parameters: [PGParameter], reusing buffer: inout [UInt8]) throws(PGError) {
        swap(&storage, &buffer)
        storage.removeAll(keepingCapacity: true)
        try fill(parameters)
    }

    init(_ parameters: [PGParameter]) throws(PGError) {
        try fill(parameters)
    }

    private mutating func fill(_ parameters: [PGParameter]) throws(PGError) {
        types.reserveCapacity(parameters.count)
        lengths.reserveCapacity(parameters.count)
        formats.reserveCapacity(parameters.count)
        starts.reserveCapacity(parameters.count)
        storage.reserveCapacity(parameters.reduce(0) { $0 + ($1.value?.count ?? 0) + 1 })
        for (index, parameter) in parameters.enumerated() {
            types.append(parameter.oid)
            formats.append(parameter.isBinary ? 1 : 0)
            guard let value = parameter.value else {
                starts.append(nil)
                lengths.append(0)
                continue
            }
            guard value.count < Int32.max else {
                throw PGError(kind: .query, sqlState: nil, message: "parameter $\(index + 1) is 2 GiB or larger")
            }
            if !parameter.isBinary && value.contains(0) {
                throw PGError(kind: .query, sqlState: nil, message: "text parameter $\(index + 1) contains a NUL byte")
            }
            starts.append(storage.count)
            lengths.append(Int32(value.count))
            storage.append(contentsOf: value)
            storage.append(0)
        }
    }

    var count: Int32 { Int32(clamping: types.count) }

    /// Calls `body` with the value pointers, valid for the call only.
    func withValues<R>(_ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress)
            return body(starts.map { start in
                start.flatMap { base?.advanced(by: $0).assumingMemoryBound(to: CChar.self) }
            })
        }
    }
}
