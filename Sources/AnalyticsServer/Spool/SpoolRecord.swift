/// One batch as the payload of a spool record, little-endian:
/// version (1), flags (bit 0 audit, bit 1 answer lost), id length (u16),
/// id (UTF-8), rows (u32), then the batch's three sealed arrays, each as
/// a u32 length and the bytes PostgreSQL receives. The marker (the batch id)
/// goes with the rows, so a replay is recognised if it already committed.
enum SpoolRecord {
    static let version: UInt8 = 1

    /// Payload bytes `encode(batch)` produces.
    static func encodedSize(of batch: MessageBatch) -> Int {
        1 + 1 + 2 + batch.id.utf8.count + 4
            + 12 + batch.peerConnectionIDs.count + batch.timestamps.count + batch.documents.count
    }

    static func encode(_ batch: MessageBatch) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encodedSize(of: batch))
        bytes.append(version)
        bytes.append((batch.audit ? 1 : 0) | (batch.answerLost ? 2 : 0))
        let id = Array(batch.id.utf8.prefix(Int(UInt16.max)))
        appendLittleEndian(&bytes, UInt16(id.count))
        bytes.append(contentsOf: id)
        appendLittleEndian(&bytes, UInt32(batch.count))
        for array in [batch.peerConnectionIDs, batch.timestamps, batch.documents] {
            appendLittleEndian(&bytes, UInt32(array.count))
            bytes.append(contentsOf: array)
        }
        return bytes
    }

    /// The batch a payload holds, or nil if it is not one this version
    /// wrote or its arrays disagree (MessageBatch's own checks).
    /// `createdAtMs`: loop time to give the batch (for its age histogram).
    static func decode(_ bytes: [UInt8], createdAtMs: UInt64) -> MessageBatch? {
        var reader = ByteReader(bytes: bytes)
        guard reader.byte() == version, let flags = reader.byte(), flags & ~3 == 0,
              let idLength = reader.uint16(), let idBytes = reader.bytes(Int(idLength)),
              let rows = reader.uint32(),
              let peerConnectionIDs = reader.lengthPrefixed(), let timestamps = reader.lengthPrefixed(),
              let documents = reader.lengthPrefixed(), reader.isAtEnd,
              let id = String(validating: idBytes, as: UTF8.self) else { return nil }
        var batch = MessageBatch(id: id, audit: flags & 1 != 0, createdAtMs: createdAtMs, count: Int(rows),
                                 peerConnectionIDs: peerConnectionIDs, timestamps: timestamps, documents: documents)
        batch?.answerLost = flags & 2 != 0
        return batch
    }

    private static func appendLittleEndian<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Reads little-endian fields from the front of a byte array; every read
/// returns nil past the end instead of trapping.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func byte() -> UInt8? {
        bytes(1)?.first
    }

    mutating func uint16() -> UInt16? {
        bytes(2).map { UInt16($0[0]) | UInt16($0[1]) << 8 }
    }

    mutating func uint32() -> UInt32? {
        bytes(4).map { $0.reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    }

    mutating func uint64() -> UInt64? {
        bytes(8).map { $0.reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func lengthPrefixed() -> [UInt8]? {
        uint32().flatMap { bytes(Int($0)) }
    }
}
