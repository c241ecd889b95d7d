import CSupport

/// The layout of one spool segment file, append-only:
///
///     header   "TCSPOOL1", then the creation time (u64, Unix ms, little-endian)
///     record   magic "TSSR", payload length (u32), CRC-32C of the payload (u32), payload
///     record   ...
///
/// A record is checked whole: magic, a length that fits the file, and the
/// checksum. A record that fails is skipped by searching forward for the
/// next place where a whole valid record starts; if there is none (a torn
/// or cut tail) the rest of the segment is given up. The magic is what
/// makes that search possible when a damaged length cannot be trusted.
enum SpoolSegmentFormat {
    static let fileMagic = Array("TCSPOOL1".utf8)
    static let headerSize = 16
    static let recordMagic = Array("TSSR".utf8)
    static let recordHeaderSize = 12
    /// Longest payload accepted: larger than any batch (DB_BATCH_BYTES is at
    /// most 1 GiB of JSON, plus its other arrays), small enough that a
    /// damaged length is caught before it is read.
    static let maxPayload = (1 << 30) + (64 << 20)

    static func header(createdAtUnixMs: UInt64) -> [UInt8] {
        fileMagic + withUnsafeBytes(of: createdAtUnixMs.littleEndian, Array.init)
    }

    /// The creation time a segment header holds, or nil if it is not one.
    static func createdAtUnixMs(header bytes: [UInt8]) -> UInt64? {
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == fileMagic else { return nil }
        var reader = ByteReader(bytes: Array(bytes[8..<16]))
        return reader.uint64()
    }

    /// A record's bytes: its header, then the payload.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var bytes = recordMagic
        bytes.reserveCapacity(recordHeaderSize + payload.count)
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: checksum(payload).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: payload)
        return bytes
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { ts_crc32c(0, $0.baseAddress, $0.count) }
    }

    /// What lies at an offset of a segment.
    enum Next: Equatable {
        /// A valid record, and where the one after it starts.
        case record(payload: [UInt8], next: Int)
        /// No valid record here; `resumeAt` is the next valid one, nil if
        /// the rest of the segment has none.
        case damaged(reason: String, resumeAt: Int?)
        case end
    }

    static func next(in segment: SpoolSegmentSource, at offset: Int) -> Next {
        guard offset < segment.size else { return .end }
        switch record(in: segment, at: offset) {
        case .success(let (payload, next)):
            return .record(payload: payload, next: next)
        case .failure(let damage):
            return .damaged(reason: damage.reason, resumeAt: nextValidRecord(in: segment, after: offset))
        }
    }

    private struct Damage: Error {
        let reason: String
    }

    private static func record(in segment: SpoolSegmentSource, at offset: Int) -> Result<([UInt8], Int), Damage> {
        guard let header = segment.read(offset, recordHeaderSize) else {
            return .failure(Damage(reason: "truncated record header"))
        }
        var reader = ByteReader(bytes: Array(header[4...]))
        guard Array(header[0..<4]) == recordMagic, let length = reader.uint32().map(Int.init),
              let expected = reader.uint32() else { return .failure(Damage(reason: "no record marker")) }
        guard length <= maxPayload else { return .failure(Damage(reason: "impossible record length \(length)")) }
        guard let payload = segment.read(offset + recordHeaderSize, length) else {
            return .failure(Damage(reason: "record cut short (\(length) bytes announced)"))
        }
        guard checksum(payload) == expected else { return .failure(Damage(reason: "checksum mismatch")) }
        return .success((payload, offset + recordHeaderSize + length))
    }

    /// The first offset after `offset` where a whole valid record starts.
    private static func nextValidRecord(in segment: SpoolSegmentSource, after offset: Int) -> Int? {
        let chunkSize = 64 << 10
        var start = offset + 1
        while start + recordHeaderSize <= segment.size {
            let length = min(chunkSize + recordMagic.count - 1, segment.size - start)
            guard let chunk = segment.read(start, length) else { return nil }
            var index = 0
            while index + recordMagic.count <= chunk.count {
                if chunk[index] == recordMagic[0], Array(chunk[index..<index + recordMagic.count]) == recordMagic,
                   case .success = record(in: segment, at: start + index) {
                    return start + index
                }
                index += 1
            }
            start += chunkSize
        }
        return nil
    }
}

/// Random access to a segment's bytes: a file (SpoolDirectory) or, in
/// tests, an array.
protocol SpoolSegmentSource {
    var size: Int { get }
    /// Exactly `count` bytes at `offset`, or nil if the segment ends sooner.
    func read(_ offset: Int, _ count: Int) -> [UInt8]?
}

extension Array: SpoolSegmentSource where Element == UInt8 {
    var size: Int { count }

    func read(_ offset: Int, _ count: Int) -> [UInt8]? {
        guard offset >= 0, count >= 0, offset <= self.count - count else { return nil }
        return Array(self[offset..<offset + count])
    }
}
