@testable import AnalyticsServer
import Foundation
@testable import PostgresClient
@testable import TestSupport
import XCTest

/// MessageBatch keeps its rows in PostgreSQL's binary array format
/// (array_recv): for each of int4[], timestamp[] and jsonb[] a 20-byte
/// header (ndim, has-null flag, element oid, length and lower bound of the
/// one dimension), then each element as a 4-byte length and its bytes.
/// Checked byte for byte, then against a real PostgreSQL.
final class MessageBatchTests: StorageTestCase {
    /// Unix microseconds of 2026-11-01 12:34:56.789012 UTC.
    private static let novemberMicros: Int64 = 1_793_536_496_789_012
    /// Unix microseconds of 1999-12-31 23:59:59.999999 UTC: before timestamp's epoch.
    private static let lastMicroOf1999: Int64 = 946_684_799_999_999

    private func batch(_ rows: [(Int32, Int64, String)], id: String = "b-1", audit: Bool = false, sealed: Bool = true) -> MessageBatch {
        var batch = MessageBatch(id: id, audit: audit, createdAtMs: 42, capacity: rows.count)
        for (peer, micros, document) in rows {
            Array(document.utf8).withUnsafeBytes {
                batch.append(peerConnectionID: peer, createdAtUnixMicros: micros, document: $0)
            }
        }
        if sealed { batch.seal() }
        return batch
    }

    private func bigEndian32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    private func bigEndian64(_ value: UInt64) -> [UInt8] {
        bigEndian32(UInt32(value >> 32)) + bigEndian32(UInt32(value & 0xFFFF_FFFF))
    }

    /// ndim 1, no NULLs, element oid, `count` elements, lower bound 1.
    private func header(oid: UInt32, count: UInt32) -> [UInt8] {
        bigEndian32(1) + bigEndian32(0) + bigEndian32(oid) + bigEndian32(count) + bigEndian32(1)
    }

    private func values(_ batch: MessageBatch) -> [[UInt8]?] {
        batch.parameters().map(\.value)
    }

    // MARK: Encoding

    func testAnEmptySealedBatchIsThreeEmptyArraysAndTheFlag() {
        let empty = batch([], audit: true)
        XCTAssertEqual(empty.count, 0)
        XCTAssertEqual(empty.byteCount, 3 * 20)
        XCTAssertEqual(values(empty), [header(oid: 23, count: 0), header(oid: 1114, count: 0), header(oid: 3802, count: 0), [1]])
    }

    func testOneRowIsEncodedByteForByte() {
        // 2000-01-01 00:00:01 is one second after timestamp's epoch.
        let one = batch([(7, 946_684_801_000_000, "{\"a\":1}")])
        let parameters = one.parameters()
        XCTAssertEqual(parameters.map(\.oid), [1007, 1115, 3807, 16], "int4[], timestamp[], jsonb[], bool")
        XCTAssertEqual(parameters.map(\.isBinary), [true, true, true, true])
        XCTAssertEqual(parameters[0].value, header(oid: 23, count: 1) + [0, 0, 0, 4] + [0, 0, 0, 7])
        XCTAssertEqual(parameters[1].value, header(oid: 1114, count: 1) + [0, 0, 0, 8] + [0, 0, 0, 0, 0, 0x0F, 0x42, 0x40])
        XCTAssertEqual(parameters[2].value, header(oid: 3802, count: 1) + [0, 0, 0, 8] + [1] + Array("{\"a\":1}".utf8),
                       "length counts the jsonb version byte (1) before the text")
        XCTAssertEqual(parameters[3].value, [0], "not audit")
        XCTAssertEqual(one.count, 1)
        // 28 + 32 + 32 array bytes and one 4-byte document offset.
        XCTAssertEqual(one.byteCount, 96)
    }

    func testTwoRowsFollowEachOtherAndTheHeaderCountsThem() {
        let two = batch([(-1, 0, "[]"), (Int32.max, MessageBatchTests.lastMicroOf1999, "{\"ü\":\"✓\"}")], audit: true)
        let parameters = two.parameters()
        XCTAssertEqual(parameters[0].value, header(oid: 23, count: 2) + [0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF] + [0, 0, 0, 4, 0x7F, 0xFF, 0xFF, 0xFF])
        // Before 2000 the stored value is negative (two's complement).
        let epochOffset: Int64 = 946_684_800_000_000
        XCTAssertEqual(parameters[1].value, header(oid: 1114, count: 2)
            + [0, 0, 0, 8] + bigEndian64(UInt64(bitPattern: 0 - epochOffset))
            + [0, 0, 0, 8] + bigEndian64(UInt64(bitPattern: -1)))
        XCTAssertEqual(bigEndian64(UInt64(bitPattern: 0 - epochOffset)), [0xFF, 0xFC, 0xA2, 0xFE, 0xC4, 0xC8, 0x20, 0x00])
        let second = Array("{\"ü\":\"✓\"}".utf8)
        XCTAssertEqual(parameters[2].value, header(oid: 3802, count: 2)
            + [0, 0, 0, 3, 1] + Array("[]".utf8) + bigEndian32(UInt32(second.count + 1)) + [1] + second)
        XCTAssertEqual(parameters[3].value, [1], "audit")
        XCTAssertEqual(two.peerConnectionID(ofRow: 0), -1)
        XCTAssertEqual(two.peerConnectionID(ofRow: 1), Int32.max)
    }

    func testByteCountGrowsByEachRowsBytesAndSealingChangesNothing() {
        var growing = MessageBatch(id: "b", audit: false, createdAtMs: 0, capacity: 100)
        XCTAssertEqual(growing.byteCount, 60, "the three headers; capacity reserved is not counted")
        var expected = 60
        for size in [0, 1, 71, 1000] {
            let document = [UInt8](repeating: 0x20, count: size)
            document.withUnsafeBytes { growing.append(peerConnectionID: 1, createdAtUnixMicros: 0, document: $0) }
            // int4 element 4+4, timestamp element 4+8, jsonb element 4+1+size, offset 4.
            expected += 8 + 12 + 5 + size + 4
            XCTAssertEqual(growing.byteCount, expected, "after a \(size)-byte document")
        }
        growing.seal()
        XCTAssertEqual(growing.byteCount, expected)
        XCTAssertEqual(growing.count, 4)
    }

    func testABatchBuiltInReusedArraysIsTheSameAsAFreshOneAndLeavesTheOldBatchAlone() {
        let first = batch([(1, 0, String(repeating: "x", count: 5000)), (2, 1, "{}"), (3, 2, "[1]")])
        let firstValues = values(first)
        let rows: [(Int32, Int64, String)] = [(9, MessageBatchTests.novemberMicros, "{\"a\":[true]}"), (-4, 7, "1")]
        // The old batch is still held (as a statement's parameters may be):
        // its arrays must not be overwritten.
        var reused = MessageBatch(id: "b-2", audit: true, createdAtMs: 42, capacity: rows.count, reusing: first.storage)
        for (peer, micros, document) in rows {
            Array(document.utf8).withUnsafeBytes { reused.append(peerConnectionID: peer, createdAtUnixMicros: micros, document: $0) }
        }
        reused.seal()
        XCTAssertEqual(values(first), firstValues, "the batch the arrays came from is unchanged")
        XCTAssertEqual(values(reused), values(batch(rows, id: "b-2", audit: true)))
        XCTAssertEqual(reused.byteCount, batch(rows, id: "b-2", audit: true).byteCount)

        // Arrays no one else holds keep their room.
        var again = MessageBatch(id: "b-3", audit: false, createdAtMs: 0,
                                 reusing: batch([(1, 0, String(repeating: "y", count: 100_000))]).storage)
        XCTAssertGreaterThanOrEqual(again.storage.capacity, 100_000)
        Array("{}".utf8).withUnsafeBytes { again.append(peerConnectionID: 5, createdAtUnixMicros: 0, document: $0) }
        again.seal()
        XCTAssertEqual(values(again), values(batch([(5, 0, "{}")], id: "b-3")))
    }

    func testSealingWritesTheHeadersInPlaceAndTheBatchKeepsItsIdentity() {
        let unsealed = batch([(3, 0, "1"), (4, 0, "2")], id: "inst-9", audit: true, sealed: false)
        XCTAssertEqual(unsealed.parameters()[0].value?.prefix(20).allSatisfy { $0 == 0 }, true, "headers are zero until sealed")
        var sealed = unsealed
        sealed.seal()
        XCTAssertEqual(sealed.parameters()[0].value?.prefix(20).map { $0 }, header(oid: 23, count: 2))
        XCTAssertEqual(sealed.parameters()[0].value?.dropFirst(20).map { $0 }, unsealed.parameters()[0].value?.dropFirst(20).map { $0 })
        XCTAssertEqual(sealed.id, "inst-9")
        XCTAssertTrue(sealed.audit)
        XCTAssertEqual(sealed.createdAtMs, 42)
    }

    func testHalvesHoldTheSameRowsAsBatchesBuiltFromThem() {
        let rows: [(Int32, Int64, String)] = [
            (1, MessageBatchTests.novemberMicros, "{\"n\":1}"), (2, 0, "{\"n\":22}"), (3, MessageBatchTests.lastMicroOf1999, "{}"),
            (-4, 1, "{\"long\":\"" + String(repeating: "x", count: 300) + "\"}"), (5, 2, "[5]"),
        ]
        let whole = batch(rows, id: "inst-3", audit: true)
        let (first, second) = whole.halves()
        XCTAssertEqual([first.count, second.count], [2, 3])
        XCTAssertEqual([first.id, second.id], ["inst-3a", "inst-3b"])
        XCTAssertEqual([first.audit, second.audit], [true, true])
        XCTAssertEqual([first.createdAtMs, second.createdAtMs], [42, 42])
        XCTAssertEqual(values(first), values(batch(Array(rows[0..<2]), audit: true)), "sealed, byte for byte")
        XCTAssertEqual(values(second), values(batch(Array(rows[2...]), audit: true)))
        XCTAssertEqual(first.byteCount + second.byteCount, whole.byteCount + 60, "one set of headers more")
        XCTAssertEqual(second.peerConnectionID(ofRow: 1), -4)

        // Halving again, down to one row, as the writer does to isolate a bad row.
        let (third, fourth) = second.halves()
        XCTAssertEqual([third.id, fourth.id], ["inst-3ba", "inst-3bb"])
        XCTAssertEqual(values(third), values(batch([rows[2]], audit: true)))
        XCTAssertEqual(values(fourth), values(batch(Array(rows[3...]), audit: true)))
    }

    // MARK: PostgreSQL reads it back

    private static let documents = [
        "{\"msg\":\"system.connected\",\"payload\":{\"name\":\"node-1\",\"height\":12}}",
        "{\"ünï\":\"✓ \\\"quoted\\\" \\\\ \\u00e9\",\"list\":[1,2.5,-3e2,null,true,false]}",
        "{}",
        "{\"msg\":\"" + String(repeating: "long ", count: 2000) + "\"}",
    ]

    private func sampleRows() -> [(Int32, Int64, String)] {
        [
            (1, MessageBatchTests.novemberMicros, MessageBatchTests.documents[0]),
            (-5, 0, MessageBatchTests.documents[1]),
            (Int32.max, MessageBatchTests.lastMicroOf1999, MessageBatchTests.documents[2]),
            (Int32.min, MessageBatchTests.novemberMicros + 1, MessageBatchTests.documents[3]),
        ]
    }

    /// jsonb's own rendering of `text`, as PostgreSQL parses it from text.
    private func jsonbText(_ connection: PGConnection, _ text: String) -> String? {
        rows(connection, "SELECT $1::jsonb::text", [.text(text)])?.string(0, 0)
    }

    func testPostgreSQLDecodesTheArraysAsTheRowsThatWereAppended() throws {
        let connection = connect()
        let sample = batch(sampleRows())
        let parameters = Array(sample.parameters().prefix(3))
        let decoded = try XCTUnwrap(rows(connection, """
            SELECT id::text, created_at::text, logs::text, ordinality::text
            FROM unnest($1::int4[], $2::timestamp[], $3::jsonb[]) WITH ORDINALITY AS t(id, created_at, logs)
            ORDER BY ordinality
            """, parameters))
        XCTAssertEqual(decoded.count, 4)
        XCTAssertEqual((0..<decoded.count).map { decoded.string($0, 0) }, ["1", "-5", "2147483647", "-2147483648"])
        XCTAssertEqual((0..<decoded.count).map { decoded.string($0, 1) }, [
            "2026-11-01 12:34:56.789012", "1970-01-01 00:00:00", "1999-12-31 23:59:59.999999", "2026-11-01 12:34:56.789013",
        ])
        for (row, document) in MessageBatchTests.documents.enumerated() {
            XCTAssertEqual(decoded.string(row, 2), jsonbText(connection, document), "row \(row)")
        }
        // The array metadata as PostgreSQL sees it.
        let shape = try XCTUnwrap(rows(connection, """
            SELECT array_ndims($1::int4[]), array_lower($1::int4[], 1), cardinality($2::timestamp[]), cardinality($3::jsonb[]),
                   array_position($1::int4[], NULL) IS NULL
            """, parameters))
        XCTAssertEqual((0..<5).map { shape.string(0, $0) }, ["1", "1", "4", "4", "t"])
    }

    func testTheHalvesDecodeToTheSameRowsAsTheWhole() throws {
        let connection = connect()
        let whole = batch(sampleRows())
        let (first, second) = whole.halves()
        func decoded(_ batch: MessageBatch) -> [String] {
            guard let result = rows(connection, """
                SELECT concat_ws('|', id, created_at, logs) FROM unnest($1::int4[], $2::timestamp[], $3::jsonb[])
                  WITH ORDINALITY AS t(id, created_at, logs) ORDER BY ordinality
                """, Array(batch.parameters().prefix(3))) else { return [] }
            return (0..<result.count).compactMap { result.string($0, 0) }
        }
        let all = decoded(whole)
        XCTAssertEqual(all.count, 4)
        XCTAssertEqual(decoded(first) + decoded(second), all)
    }

    func testTheWritersStatementStoresTheBatchOnceUnderItsId() throws {
        try migrate()
        let connection = connect()

        let live = batch(sampleRows(), id: "inst-1")
        let audit = batch([(9, MessageBatchTests.novemberMicros, "{\"audit\":true}")], id: "inst-2", audit: true)
        for sent in [live, audit, live] { // the third is a retry of the first: skipped
            rows(connection, BatchWriter.insertStatement, [.text(sent.id)] + sent.parameters())
        }
        let stored = try database.query("""
            SELECT peer_connection_id, created_at, logs::text, audit, tableoid::regclass FROM tetcore_logs ORDER BY id
            """)
        XCTAssertEqual(stored.map { $0[0] }, ["1", "-5", "2147483647", "-2147483648", "9"])
        XCTAssertEqual(stored.map { $0[1] }, ["2026-11-01 12:34:56.789012", "1970-01-01 00:00:00", "1999-12-31 23:59:59.999999",
                                              "2026-11-01 12:34:56.789013", "2026-11-01 12:34:56.789012"])
        for (row, document) in MessageBatchTests.documents.enumerated() {
            XCTAssertEqual(stored[row][2], try database.scalar("SELECT '\(document.replacingOccurrences(of: "'", with: "''"))'::jsonb::text"),
                           "row \(row)")
        }
        XCTAssertEqual(stored.map { $0[3] }, ["f", "f", "f", "f", "t"])
        XCTAssertEqual(stored.last?[4], "tetcore_logs_audit")
        XCTAssertEqual(try database.query("SELECT id FROM ingest_batches ORDER BY id").map { $0[0] }, ["inst-1", "inst-2"])
    }
}
