import PostgresClient
// Ingestion: telemetry from nodes to rows in PostgreSQL.
//
// The path of one message: WebSocketConnection hands a frame's payload to
// TelemetryConnection, which pre-parses it in C (ts_json_preparse), maps
// the node id to its peer_connections row and appends the row to the
// MessageBatcher; full or old batches go to the BatchWriter, which inserts them
// through the write pool (Storage/) and drops them from memory only when
// PostgreSQL has committed them.

/// Rows to insert with one statement, kept directly in PostgreSQL's binary
/// array format (one int4[], one timestamp[], one jsonb[]), so sending a
/// batch copies nothing and every message's JSON is copied exactly once.
/// All rows of a batch share the audit flag, sent as one scalar.
struct MessageBatch {
    /// Unique across instances and retries: the exactly-once key.
    let id: String
    /// Rows of `/audit` connections (stored apart, never expire).
    let audit: Bool
    private(set) var count = 0
    /// The three arrays, read by the spool to save the batch (SpoolRecord).
    private(set) var peerConnectionIDs: [UInt8]
    private(set) var timestamps: [UInt8]
    private(set) var documents: [UInt8]
    /// Where each row's jsonb element starts in `documents`, for splitting.
    private var documentOffsets: [Int32] = []
    /// Loop time (ms) when the first row was added.
    let createdAtMs: UInt64
    /// An attempt to write it ended with the connection lost: that attempt
    /// may have committed, and a later one then finds the marker.
    var answerLost = false
    /// Where the disk spool holds this batch, when it was read back from
    /// there (DiskSpool): committing it lets the spool forget the record.
    var spooledAt: SpoolPosition?

    /// The arrays of a batch that has left memory, to hold the rows of a
    /// later one: a batch's arrays are blocks of hundreds of KiB, which
    /// glibc maps and unmaps (AnalyticsService.boundHeapGrowth), so fresh
    /// ones cost a page fault per 4 KiB written and copies as they grow.
    struct Storage {
        fileprivate var peerConnectionIDs: [UInt8]
        fileprivate var timestamps: [UInt8]
        fileprivate var documents: [UInt8]
        fileprivate var documentOffsets: [Int32]

        /// Bytes the arrays have room for.
        var capacity: Int {
            peerConnectionIDs.capacity + timestamps.capacity + documents.capacity + documentOffsets.capacity * 4
        }
    }

    /// The batch's arrays (shared, not copied), for a later batch to reuse.
    var storage: Storage { Storage(peerConnectionIDs: peerConnectionIDs, timestamps: timestamps, documents: documents,
                                   documentOffsets: documentOffsets) }

    /// An empty batch; with `storage`, in those arrays (emptied, their room
    /// kept; an array still shared is not reused, so nothing is overwritten).
    /// `capacity` rows and `documentBytes` bytes of JSON are reserved.
    init(id: String, audit: Bool, createdAtMs: UInt64, capacity: Int = 0, documentBytes: Int = 0,
         reusing storage: Storage? = nil) {
        self.id = id
        self.audit = audit
        self.createdAtMs = createdAtMs
        if let storage {
            peerConnectionIDs = storage.peerConnectionIDs
            timestamps = storage.timestamps
            documents = storage.documents
            documentOffsets = storage.documentOffsets
            MessageBatch.resetToHeader(&peerConnectionIDs)
            MessageBatch.resetToHeader(&timestamps)
            MessageBatch.resetToHeader(&documents)
            documentOffsets.removeAll(keepingCapacity: true)
        } else {
            peerConnectionIDs = MessageBatch.arrayHeader()
            timestamps = MessageBatch.arrayHeader()
            documents = MessageBatch.arrayHeader()
        }
        peerConnectionIDs.reserveCapacity(MessageBatch.headerSize + 8 * capacity)
        timestamps.reserveCapacity(MessageBatch.headerSize + 12 * capacity)
        documents.reserveCapacity(MessageBatch.headerSize + 5 * capacity + documentBytes)
        documentOffsets.reserveCapacity(capacity)
    }

    /// A sealed batch from its three arrays as `seal()` left them (read back
    /// from the spool); nil unless their headers and elements agree on
    /// `count` rows, so a damaged record can never reach PostgreSQL.
    init?(id: String, audit: Bool, createdAtMs: UInt64, count: Int,
          peerConnectionIDs: [UInt8], timestamps: [UInt8], documents: [UInt8]) {
        guard MessageBatch.hasHeader(peerConnectionIDs, elementOID: 23, count: count),
              MessageBatch.hasHeader(timestamps, elementOID: 1114, count: count),
              MessageBatch.hasHeader(documents, elementOID: 3802, count: count),
              peerConnectionIDs.count == MessageBatch.headerSize + 8 * count,
              timestamps.count == MessageBatch.headerSize + 12 * count,
              let offsets = MessageBatch.elementOffsets(documents, count: count) else { return nil }
        self.id = id
        self.audit = audit
        self.createdAtMs = createdAtMs
        self.count = count
        self.peerConnectionIDs = peerConnectionIDs
        self.timestamps = timestamps
        self.documents = documents
        documentOffsets = offsets
    }

    /// Bytes of JSON in the batch (without the array's framing).
    var documentBytes: Int { documents.count - MessageBatch.headerSize - 5 * count }

    /// Memory the batch holds (what MAX_BUFFERED_BYTES limits).
    var byteCount: Int { peerConnectionIDs.count + timestamps.count + documents.count + documentOffsets.count * 4 }

    mutating func append(peerConnectionID: Int32, createdAtUnixMicros: Int64, document: UnsafeRawBufferPointer) {
        MessageBatch.appendElement(&peerConnectionIDs, length: 4)
        MessageBatch.appendBigEndian(&peerConnectionIDs, UInt32(bitPattern: peerConnectionID))
        MessageBatch.appendElement(&timestamps, length: 8)
        MessageBatch.appendBigEndian(&timestamps, UInt64(bitPattern: createdAtUnixMicros - MessageBatch.postgresEpochOffsetMicros))
        documentOffsets.append(Int32(documents.count))
        MessageBatch.appendElement(&documents, length: document.count + 1)
        documents.append(1) // jsonb binary format version
        documents.append(contentsOf: document)
        count += 1
    }

    /// The peer_connections id of row `index` (for logging a rejected row).
    func peerConnectionID(ofRow index: Int) -> Int32 {
        let offset = MessageBatch.headerSize + index * 8 + 4
        return Int32(bitPattern: peerConnectionIDs[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) })
    }

    /// Writes the array headers once no more rows will be added. The
    /// arrays are then shared, not copied, by `parameters()`.
    mutating func seal() {
        MessageBatch.writeHeader(&peerConnectionIDs, elementOID: 23, count: count)
        MessageBatch.writeHeader(&timestamps, elementOID: 1114, count: count)
        MessageBatch.writeHeader(&documents, elementOID: 3802, count: count)
    }

    /// The three array parameters of a sealed batch, then its audit flag.
    func parameters() -> [PGParameter] {
        [
            .binary(oid: MessageBatch.int4ArrayOID, bytes: peerConnectionIDs),
            .binary(oid: MessageBatch.timestampArrayOID, bytes: timestamps),
            .binary(oid: MessageBatch.jsonbArrayOID, bytes: documents),
            .bool(audit),
        ]
    }

    /// Two batches holding the first and second half of the rows, with ids
    /// derived from this one (used to isolate a row PostgreSQL rejects).
    func halves() -> (MessageBatch, MessageBatch) {
        let middle = count / 2
        var first = slice(0..<middle, id: id + "a")
        var second = slice(middle..<count, id: id + "b")
        first.seal()
        second.seal()
        first.spooledAt = spooledAt
        second.spooledAt = spooledAt
        return (first, second)
    }

    private func slice(_ rows: Range<Int>, id: String) -> MessageBatch {
        var part = MessageBatch(id: id, audit: audit, createdAtMs: createdAtMs, capacity: rows.count)
        for row in rows {
            let start = Int(documentOffsets[row])
            let end = row + 1 < count ? Int(documentOffsets[row + 1]) : documents.count
            let microsOffset = MessageBatch.headerSize + row * 12 + 4
            let storedMicros = timestamps[microsOffset..<microsOffset + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            documents.withUnsafeBytes { bytes in
                // Skip the element's length prefix and jsonb version byte.
                part.append(peerConnectionID: peerConnectionID(ofRow: row),
                            createdAtUnixMicros: Int64(bitPattern: storedMicros) + MessageBatch.postgresEpochOffsetMicros,
                            document: UnsafeRawBufferPointer(rebasing: bytes[(start + 5)..<end]))
            }
        }
        return part
    }

    // MARK: PostgreSQL binary array format (array_recv)

    static let int4ArrayOID: UInt32 = 1007
    static let timestampArrayOID: UInt32 = 1115
    static let jsonbArrayOID: UInt32 = 3807
    /// 2000-01-01 minus 1970-01-01 in microseconds: timestamp's epoch.
    static let postgresEpochOffsetMicros: Int64 = 946_684_800_000_000
    /// ndim, has-null flag, element type, then length and lower bound of the one dimension.
    static let headerSize = 20

    private static func arrayHeader() -> [UInt8] {
        [UInt8](repeating: 0, count: headerSize)
    }

    /// Empties an array down to a blank header, keeping its room when no
    /// one else holds it (otherwise Array makes a fresh one).
    private static func resetToHeader(_ array: inout [UInt8]) {
        array.removeAll(keepingCapacity: true)
        array.append(contentsOf: repeatElement(0, count: headerSize))
    }

    private static func writeHeader(_ array: inout [UInt8], elementOID: UInt32, count: Int) {
        array.withUnsafeMutableBytes { header in
            store(1, at: 0, in: header)                  // one dimension
            store(0, at: 4, in: header)                  // no NULLs
            store(elementOID, at: 8, in: header)
            store(UInt32(count), at: 12, in: header)     // elements
            store(1, at: 16, in: header)                 // lower bound
        }
    }

    private static func hasHeader(_ array: [UInt8], elementOID: UInt32, count: Int) -> Bool {
        guard array.count >= headerSize else { return false }
        let expected: [UInt32] = [1, 0, elementOID, UInt32(truncatingIfNeeded: count), 1]
        return expected.enumerated().allSatisfy { index, value in bigEndianUInt32(array, at: index * 4) == value }
    }

    /// Where each of the `count` length-prefixed elements of a jsonb array
    /// starts, if they fill the array exactly and each holds at least the
    /// version byte.
    private static func elementOffsets(_ array: [UInt8], count: Int) -> [Int32]? {
        var offsets: [Int32] = []
        offsets.reserveCapacity(count)
        var offset = headerSize
        while offset < array.count {
            guard offsets.count < count, offset + 4 <= array.count else { return nil }
            let length = Int(bigEndianUInt32(array, at: offset))
            guard length >= 1, length <= array.count - offset - 4 else { return nil }
            offsets.append(Int32(offset))
            offset += 4 + length
        }
        return offsets.count == count ? offsets : nil
    }

    private static func bigEndianUInt32(_ array: [UInt8], at offset: Int) -> UInt32 {
        array[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private static func store(_ value: UInt32, at offset: Int, in bytes: UnsafeMutableRawBufferPointer) {
        bytes.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    private static func appendElement(_ array: inout [UInt8], length: Int) {
        appendBigEndian(&array, UInt32(length))
    }

    private static func appendBigEndian<T: FixedWidthInteger>(_ array: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.bigEndian) { array.append(contentsOf: $0) }
    }
}
