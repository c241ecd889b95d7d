@testable import AnalyticsServer
import CSupport
import Foundation
import XCTest

/// The spool's record and segment format, without a server: batches come
/// back byte for byte, and damage is found, reported and stepped over.
final class SpoolFormatTests: XCTestCase {
    private func batch(_ id: String, rows: Int, audit: Bool = false) -> MessageBatch {
        var batch = MessageBatch(id: id, audit: audit, createdAtMs: 7, capacity: rows)
        for row in 0..<rows {
            Array(#"{"msg":"seq","n":\#(row),"id":"\#(id)"}"#.utf8).withUnsafeBytes {
                batch.append(peerConnectionID: Int32(row + 1), createdAtUnixMicros: 1_793_536_496_789_012 + Int64(row), document: $0)
            }
        }
        batch.seal()
        return batch
    }

    private func assertSame(_ decoded: MessageBatch?, _ original: MessageBatch, file: StaticString = #filePath, line: UInt = #line) {
        guard let decoded else { return XCTFail("not decoded", file: file, line: line) }
        XCTAssertEqual(decoded.id, original.id, file: file, line: line)
        XCTAssertEqual(decoded.audit, original.audit, file: file, line: line)
        XCTAssertEqual(decoded.count, original.count, file: file, line: line)
        XCTAssertEqual(decoded.peerConnectionIDs, original.peerConnectionIDs, file: file, line: line)
        XCTAssertEqual(decoded.timestamps, original.timestamps, file: file, line: line)
        XCTAssertEqual(decoded.documents, original.documents, file: file, line: line)
    }

    /// A segment of `batches`, and where each record starts.
    private func segment(_ batches: [MessageBatch]) -> (bytes: [UInt8], offsets: [Int]) {
        var bytes = SpoolSegmentFormat.header(createdAtUnixMs: 1_000)
        var offsets: [Int] = []
        for batch in batches {
            offsets.append(bytes.count)
            bytes += SpoolSegmentFormat.frame(SpoolRecord.encode(batch))
        }
        return (bytes, offsets)
    }

    /// Every outcome from the first record to the end.
    private func walk(_ bytes: [UInt8]) -> [SpoolSegmentFormat.Next] {
        var outcomes: [SpoolSegmentFormat.Next] = []
        var offset = SpoolSegmentFormat.headerSize
        while true {
            let next = SpoolSegmentFormat.next(in: bytes, at: offset)
            outcomes.append(next)
            switch next {
            case .record(_, let after): offset = after
            case .damaged(_, let resumeAt?): offset = resumeAt
            case .damaged(_, nil), .end: return outcomes
            }
        }
    }

    func testCRC32CMatchesTheStandardCheckValue() {
        let bytes = Array("123456789".utf8)
        XCTAssertEqual(bytes.withUnsafeBufferPointer { ts_crc32c(0, $0.baseAddress, $0.count) }, 0xE306_9283)
        // Continuing over a second range equals one pass over both.
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = long.withUnsafeBufferPointer { ts_crc32c(0, $0.baseAddress, $0.count) }
        let first = long[..<333].withUnsafeBufferPointer { ts_crc32c(0, $0.baseAddress, $0.count) }
        XCTAssertEqual(long[333...].withUnsafeBufferPointer { ts_crc32c(first, $0.baseAddress, $0.count) }, whole)
    }

    func testABatchRoundTripsWithItsMarkerFlagsAndRows() {
        var original = batch("inst-0-17", rows: 5, audit: true)
        original.answerLost = true
        let decoded = SpoolRecord.decode(SpoolRecord.encode(original), createdAtMs: 99)
        assertSame(decoded, original)
        XCTAssertEqual(decoded?.answerLost, true)
        XCTAssertEqual(decoded?.createdAtMs, 99)
        XCTAssertEqual(SpoolRecord.encode(original).count, SpoolRecord.encodedSize(of: original))
        // Rows come back usable: halves split the decoded batch like the original.
        let (first, second) = decoded.map { $0.halves() } ?? (original, original)
        XCTAssertEqual(first.count + second.count, 5)
        XCTAssertEqual(second.peerConnectionID(ofRow: 0), 3)
    }

    func testEveryRecordOfASegmentIsReadInOrder() {
        let batches = (1...3).map { batch("b-\($0)", rows: $0 * 2) }
        let outcomes = walk(segment(batches).bytes)
        XCTAssertEqual(outcomes.count, 4)
        for (index, original) in batches.enumerated() {
            guard case .record(let payload, _) = outcomes[index] else { return XCTFail("record \(index): \(outcomes[index])") }
            assertSame(SpoolRecord.decode(payload, createdAtMs: 0), original)
        }
        XCTAssertEqual(outcomes.last, .end)
    }

    func testAFlippedByteDamagesOnlyItsRecord() {
        let batches = (1...3).map { batch("b-\($0)", rows: 3) }
        var (bytes, offsets) = segment(batches)
        bytes[offsets[1] + SpoolSegmentFormat.recordHeaderSize + 30] ^= 0x40
        let outcomes = walk(bytes)
        XCTAssertEqual(outcomes.count, 4, "\(outcomes)")
        XCTAssertEqual(outcomes[1], .damaged(reason: "checksum mismatch", resumeAt: offsets[2]))
        if case .record(let payload, _) = outcomes[0] { assertSame(SpoolRecord.decode(payload, createdAtMs: 0), batches[0]) }
        if case .record(let payload, _) = outcomes[2] { assertSame(SpoolRecord.decode(payload, createdAtMs: 0), batches[2]) }
        XCTAssertEqual(outcomes[3], .end)
    }

    func testADamagedLengthIsSteppedOverByFindingTheNextRecord() {
        let batches = (1...3).map { batch("b-\($0)", rows: 3) }
        var (bytes, offsets) = segment(batches)
        bytes[offsets[1] + 6] = 0x7F // the length's third byte: far past the file
        let outcomes = walk(bytes)
        guard case .damaged(_, let resumeAt) = outcomes[1] else { return XCTFail("\(outcomes)") }
        XCTAssertEqual(resumeAt, offsets[2])
        guard case .record = outcomes[2] else { return XCTFail("\(outcomes)") }
    }

    func testACutTailLosesOnlyTheLastRecord() {
        let batches = (1...3).map { batch("b-\($0)", rows: 3) }
        let (bytes, offsets) = segment(batches)
        let cut = Array(bytes[..<(offsets[2] + 20)])
        let outcomes = walk(cut)
        XCTAssertEqual(outcomes.count, 3, "\(outcomes)")
        guard case .record = outcomes[0], case .record = outcomes[1] else { return XCTFail("\(outcomes)") }
        guard case .damaged(_, nil) = outcomes[2] else { return XCTFail("\(outcomes)") }
        // Cut inside the record header.
        let short = walk(Array(bytes[..<(offsets[2] + 5)]))
        guard case .damaged(_, nil) = short.last else { return XCTFail("\(short)") }
    }

    func testArraysThatDisagreeWithTheirRowCountAreRefused() {
        let original = batch("b-1", rows: 4)
        XCTAssertNil(MessageBatch(id: "x", audit: false, createdAtMs: 0, count: 3, peerConnectionIDs: original.peerConnectionIDs,
                                  timestamps: original.timestamps, documents: original.documents))
        var documents = original.documents
        documents.removeLast()
        XCTAssertNil(MessageBatch(id: "x", audit: false, createdAtMs: 0, count: 4, peerConnectionIDs: original.peerConnectionIDs,
                                  timestamps: original.timestamps, documents: documents))
        // A payload with a valid checksum but a bad version or trailing bytes.
        var payload = SpoolRecord.encode(original)
        XCTAssertNil(SpoolRecord.decode(payload + [0], createdAtMs: 0))
        payload[0] = 9
        XCTAssertNil(SpoolRecord.decode(payload, createdAtMs: 0))
    }

    /// The directory on a real file system: appends synced into segments,
    /// found again by a scan (as after a restart), read back, deleted.
    func testADirectoryKeepsItsSegmentsAcrossAReopen() throws {
        let root = NSTemporaryDirectory() + "tetcore-spool-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/loop-0"
        let batches = (1...4).map { batch("b-\($0)", rows: 2) }
        do {
            let directory = SpoolDirectory(path: path)
            XCTAssertEqual(try directory.scan(), [])
            // Two segments of two records.
            for (index, original) in batches.enumerated() {
                let appended = try directory.append(SpoolSegmentFormat.frame(SpoolRecord.encode(original)),
                                                    newSegment: index % 2 == 0, nowUnixMs: 5_000)
                XCTAssertEqual(appended.sequence, UInt64(index / 2 + 1))
            }
            // A second process on the same spool is refused.
            XCTAssertThrowsError(try SpoolDirectory(path: path).scan())
        }
        let reopened = SpoolDirectory(path: path)
        let segments = try reopened.scan()
        XCTAssertEqual(segments.map(\.sequence), [1, 2])
        XCTAssertEqual(segments.map(\.createdAtUnixMs), [5_000, 5_000])
        var found: [MessageBatch] = []
        for segment in segments {
            var offset = 0
            while case .record(let payload, let after) = reopened.next(inSegment: segment.sequence, at: offset, size: segment.size) {
                found += SpoolRecord.decode(payload, createdAtMs: 0).map { [$0] } ?? []
                offset = after
            }
            XCTAssertEqual(offset, segment.size)
        }
        XCTAssertEqual(found.map(\.id), batches.map(\.id))
        try reopened.delete(1)
        XCTAssertEqual(try SpoolDirectory(path: root + "/other").scan(), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/" + SpoolDirectory.fileName(1)))
        // A new append after a reopen goes to a new segment, after the last.
        XCTAssertEqual(try reopened.append(SpoolSegmentFormat.frame(SpoolRecord.encode(batches[0])), newSegment: false,
                                           nowUnixMs: 6_000).sequence, 3)
    }
}
