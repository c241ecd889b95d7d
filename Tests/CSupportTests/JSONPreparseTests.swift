import CSupport
import Foundation
import XCTest

/// ts_json_preparse: form, `ts`, `msg`, the stored row and node identity,
/// for every message kind of the project's catalogue and every reject.
final class JSONPreparseTests: XCTestCase {
    // MARK: harness

    /// One pre-parse, with every result copied out before the release.
    struct Outcome {
        var status: Int32 = 0
        var outNeeded = 0
        var form = TS_JSON_FLAT
        var nodeID: Int64 = 0
        var createdAt: Int64 = 0
        var msg: String?
        var row: String?
        var rowIsInput = false
        var rowIsOutput = false
        var peerID: String?, name: String?, chain: String?, version: String?, implementation: String?
        var authority: Int32 = 0
        var startupTime: Int64?
        var fromConnected = false
        /// The struct is fully cleared (tree, row, msg; authority -1), as
        /// after an error or after ts_json_message_release().
        var cleared = false
    }

    private static func string(_ s: ts_json_str) -> String? {
        guard let ptr = s.ptr else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: ptr, count: s.len), as: UTF8.self)
    }

    private static func isCleared(_ m: ts_json_message) -> Bool {
        m.tree_ == nil && m.row == nil && m.row_len == 0 && m.msg.ptr == nil && m.form == TS_JSON_FLAT
            && m.node_id == 0 && m.created_at_us == 0 && m.node.peer_id.ptr == nil && m.node.authority == -1
            && m.node.has_startup_time == 0 && m.node.from_connected == 0
    }

    private func preparse(_ bytes: [UInt8], wantNodeInfo: Bool = true, capacity: Int? = 4096) -> Outcome {
        var outcome = Outcome()
        var out = [CChar](repeating: 0, count: capacity ?? 0)
        bytes.withUnsafeBufferPointer { inputBuffer in
            inputBuffer.withMemoryRebound(to: CChar.self) { input in
                out.withUnsafeMutableBufferPointer { output in
                    var m = ts_json_message()
                    var needed = 12345
                    outcome.status = ts_json_preparse(
                        input.baseAddress, input.count,
                        capacity == nil ? nil : output.baseAddress, output.count, &needed, &m)
                    outcome.outNeeded = needed
                    guard outcome.status == TS_JSON_OK.rawValue else {
                        outcome.cleared = Self.isCleared(m)
                        return
                    }
                    if wantNodeInfo { XCTAssertEqual(ts_json_read_node_info(&m), TS_JSON_OK.rawValue) }
                    outcome.form = m.form
                    outcome.nodeID = m.node_id
                    outcome.createdAt = m.created_at_us
                    outcome.msg = Self.string(m.msg)
                    outcome.row = Self.string(ts_json_str(ptr: m.row, len: m.row_len))
                    outcome.rowIsInput = m.row == input.baseAddress && m.row_len == input.count
                    outcome.rowIsOutput = m.row == UnsafePointer(output.baseAddress)
                    outcome.peerID = Self.string(m.node.peer_id)
                    outcome.name = Self.string(m.node.name)
                    outcome.chain = Self.string(m.node.chain)
                    outcome.version = Self.string(m.node.version)
                    outcome.implementation = Self.string(m.node.implementation)
                    outcome.authority = m.node.authority
                    outcome.startupTime = m.node.has_startup_time != 0 ? m.node.startup_time : nil
                    outcome.fromConnected = m.node.from_connected != 0
                    ts_json_message_release(&m)
                    outcome.cleared = Self.isCleared(m)
                    ts_json_message_release(&m) // a second release is harmless
                }
            }
        }
        return outcome
    }

    private func preparse(_ text: String, wantNodeInfo: Bool = true, capacity: Int? = 4096) -> Outcome {
        preparse(Array(text.utf8), wantNodeInfo: wantNodeInfo, capacity: capacity)
    }

    private func object(_ row: String?) -> [String: Any]? {
        guard let data = row?.data(using: .utf8) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    // MARK: the catalogue

    private static let catalogueURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("telemetry_messages.json")

    private func loadCatalogue() throws -> [[String: Any]] {
        let data = try Data(contentsOf: Self.catalogueURL)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    /// UTC microseconds of "YYYY-MM-DDTHH:MM:SS.fffffffff+00:00" worked out
    /// with Foundation's calendar, independently of ts_time_parse.
    private func referenceMicros(_ ts: String) throws -> Int64 {
        let parts = ts.split(whereSeparator: { "-T:.+".contains($0) }).map(String.init)
        XCTAssertEqual(parts.count, 9, ts)
        XCTAssertTrue(ts.hasSuffix("+00:00"), ts)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try XCTUnwrap(TimeZone(identifier: "UTC"))
        let numbers = parts.prefix(6).compactMap { Int($0) }
        let components = DateComponents(year: numbers[0], month: numbers[1], day: numbers[2],
                                        hour: numbers[3], minute: numbers[4], second: numbers[5])
        let date = try XCTUnwrap(calendar.date(from: components))
        let micros = try XCTUnwrap(Int64(String(parts[6].prefix(6))))
        return Int64(date.timeIntervalSince1970) * 1_000_000 + micros
    }

    func testCatalogueListsEveryKindOnce() throws {
        let kinds = try loadCatalogue().map { $0["msg"] as? String ?? "" }
        XCTAssertEqual(kinds, [
            "afg.announcing_blocks_to_voted_peers", "afg.commit_issued", "afg.finalized",
            "afg.finalized_blocks_up_to", "afg.received_commit", "afg.received_precommit", "afg.received_prevote",
            "babe.checked_and_importing", "block.import", "notify.finalized", "prepared_block_for_proposing",
            "slots.pre_sealed_block", "slots.starting_authorship", "system.connected", "system.interval",
            "system.network_state", "tracing.profiling", "txpool.import",
        ])
    }

    func testEveryCatalogueKindIsStoredAsSentWithItsTimestamp() throws {
        for example in try loadCatalogue() {
            let kind = try XCTUnwrap(example["msg"] as? String)
            let bytes = Array(try JSONSerialization.data(withJSONObject: example))
            let outcome = preparse(bytes)
            XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue, kind)
            XCTAssertEqual(outcome.form, TS_JSON_FLAT, kind)
            XCTAssertEqual(outcome.nodeID, 0, kind)
            XCTAssertEqual(outcome.msg, kind)
            XCTAssertEqual(outcome.createdAt, try referenceMicros(try XCTUnwrap(example["ts"] as? String)), kind)
            XCTAssertTrue(outcome.rowIsInput, "\(kind): the row is the input itself, not a copy")
            XCTAssertEqual(outcome.row.map { Array($0.utf8) }, bytes, kind)
            XCTAssertEqual(outcome.outNeeded, 0, kind)
            XCTAssertTrue(outcome.cleared, kind)
        }
    }

    func testCatalogueSystemConnectedGivesTheNodeIdentity() throws {
        let example = try XCTUnwrap(try loadCatalogue().first { $0["msg"] as? String == "system.connected" })
        let outcome = preparse(Array(try JSONSerialization.data(withJSONObject: example)))
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertTrue(outcome.fromConnected)
        XCTAssertEqual(outcome.peerID, example["network_id"] as? String)
        XCTAssertEqual(outcome.name, example["name"] as? String)
        XCTAssertEqual(outcome.chain, example["chain"] as? String)
        XCTAssertEqual(outcome.version, example["version"] as? String)
        XCTAssertEqual(outcome.implementation, example["implementation"] as? String)
        XCTAssertEqual(outcome.authority, (example["authority"] as? Bool) == true ? 1 : 0)
        XCTAssertEqual(outcome.startupTime.map(String.init), example["startup_time"] as? String)
    }

    func testCatalogueNetworkStateGivesItsPeerID() throws {
        let example = try XCTUnwrap(try loadCatalogue().first { $0["msg"] as? String == "system.network_state" })
        let state = try XCTUnwrap(example["state"] as? [String: Any])
        let outcome = preparse(Array(try JSONSerialization.data(withJSONObject: example)))
        XCTAssertEqual(outcome.peerID, try XCTUnwrap(state["peerId"] as? String))
        XCTAssertFalse(outcome.fromConnected)
    }

    func testTheWholeCatalogueArrayIsNotAnObject() throws {
        let outcome = preparse(Array(try Data(contentsOf: Self.catalogueURL)))
        XCTAssertEqual(outcome.status, TS_JSON_ENOTOBJECT.rawValue)
    }

    // MARK: flat form

    func testFlatMessageNeedsNoOutputBuffer() {
        let text = #"{"msg":"txpool.import","ready":3,"future":0,"ts":"2024-06-11T10:06:26.912067289+00:00"}"#
        let outcome = preparse(text, capacity: nil)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertTrue(outcome.rowIsInput)
        XCTAssertEqual(outcome.createdAt, 1_718_100_386_912_067)
    }

    func testMissingOrNonStringMsgIsNotAnError() {
        let missing = preparse(#"{"ts":"2024-06-11T10:00:00Z","level":"INFO"}"#)
        XCTAssertEqual(missing.status, TS_JSON_OK.rawValue)
        XCTAssertNil(missing.msg)
        let number = preparse(#"{"msg":42,"ts":"2024-06-11T10:00:00Z"}"#)
        XCTAssertEqual(number.status, TS_JSON_OK.rawValue)
        XCTAssertNil(number.msg)
    }

    func testEscapedNULInAStringIsAccepted() {
        let text = #"{"msg":"a\u0000b","note":"\u0000","ts":"2024-06-11T10:00:00Z"}"#
        let outcome = preparse(text)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.msg, "a\u{0}b")
        XCTAssertEqual(outcome.row, text)
    }

    func testObjectWithoutPayloadIsFlatEvenWithAnID() {
        let outcome = preparse(#"{"id":7,"msg":"block.import","ts":"2024-06-11T10:00:00Z"}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.form, TS_JSON_FLAT)
        XCTAssertEqual(outcome.nodeID, 0)
        XCTAssertTrue(outcome.rowIsInput)
    }

    // MARK: wrapped form

    private let wrapped = #"""
        {"id":3,"ts":"2021-06-01T10:00:00.123456789+01:00","payload":{"msg":"block.import","best":"0xab12","height":12.50,"origin":"Own"}}
        """#
    /// The payload's bytes as sent (12.50 stays 12.50), with ts and id appended.
    private let wrappedRow = #"""
        {"msg":"block.import","best":"0xab12","height":12.50,"origin":"Own","ts":"2021-06-01T10:00:00.123456789+01:00","id":3}
        """#

    func testWrappedMessageIsFlattenedIntoTheOutputBuffer() {
        let outcome = preparse(wrapped)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.form, TS_JSON_WRAPPED)
        XCTAssertEqual(outcome.nodeID, 3)
        XCTAssertEqual(outcome.msg, "block.import")
        XCTAssertEqual(outcome.createdAt, 1_622_538_000_123_456, "the outer ts, 10:00+01:00 = 09:00 UTC")
        XCTAssertTrue(outcome.rowIsOutput)
        XCTAssertEqual(outcome.row, wrappedRow)
        XCTAssertEqual(outcome.outNeeded, wrappedRow.utf8.count)
        XCTAssertTrue(outcome.cleared)
    }

    func testWrappedRowParsesBackWithFieldsAtTopLevel() throws {
        let row = try XCTUnwrap(object(preparse(wrapped).row))
        XCTAssertEqual(Set(row.keys), ["msg", "best", "height", "origin", "ts", "id"])
        XCTAssertEqual(row["ts"] as? String, "2021-06-01T10:00:00.123456789+01:00")
        XCTAssertEqual(row["id"] as? Int, 3)
        XCTAssertEqual(row["height"] as? Double, 12.5)
        XCTAssertNil(row["payload"])
    }

    /// The payload's own ts and id stay where they were; the outer ones are
    /// appended after them, and jsonb keeps the last of duplicate keys.
    func testOuterTSAndIDAreAppendedAfterThePayloadsOwn() {
        let outcome = preparse(#"{"id":3,"ts":"2021-06-01T10:00:00Z","payload":{"msg":"m","ts":"2001-01-01T00:00:00Z","id":99}}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.createdAt, 1_622_541_600_000_000, "the outer ts decides created_at")
        XCTAssertEqual(outcome.row, #"{"msg":"m","ts":"2001-01-01T00:00:00Z","id":99,"ts":"2021-06-01T10:00:00Z","id":3}"#)
    }

    func testWrappedWithoutIDIsNodeZero() {
        let outcome = preparse(#"{"ts":"2024-06-11T10:00:00Z","payload":{"msg":"txpool.import","ready":1}}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.form, TS_JSON_WRAPPED)
        XCTAssertEqual(outcome.nodeID, 0)
        XCTAssertEqual(outcome.row, #"{"msg":"txpool.import","ready":1,"ts":"2024-06-11T10:00:00Z","id":0}"#)
    }

    func testWrappedWithoutOuterTSUsesThePayloads() {
        let outcome = preparse(#"{"id":12,"payload":{"msg":"afg.finalized","ts":"2024-06-11T10:00:00.5-02:00"}}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.createdAt, 1_718_107_200_500_000)
        XCTAssertEqual(outcome.row, #"{"msg":"afg.finalized","ts":"2024-06-11T10:00:00.5-02:00","id":12}"#)
    }

    func testWrappedLargestID() {
        let outcome = preparse(#"{"id":9223372036854775807,"ts":"2024-06-11T10:00:00Z","payload":{}}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.nodeID, .max)
        XCTAssertEqual(outcome.row, #"{"ts":"2024-06-11T10:00:00Z","id":9223372036854775807}"#)
    }

    func testWrappedRowEscapesNUL() {
        let outcome = preparse(#"{"id":1,"ts":"2024-06-11T10:00:00Z","payload":{"msg":"x\u0000"}}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.msg, "x\u{0}")
        XCTAssertEqual(outcome.row, #"{"msg":"x\u0000","ts":"2024-06-11T10:00:00Z","id":1}"#)
    }

    func testTooSmallBufferReportsTheExactSizeThenSucceeds() {
        let expectedLength = wrappedRow.utf8.count
        for capacity in [nil, 0, 16, expectedLength - 1] as [Int?] {
            let outcome = preparse(wrapped, capacity: capacity)
            XCTAssertEqual(outcome.status, TS_JSON_ENOSPC.rawValue, "capacity \(String(describing: capacity))")
            XCTAssertEqual(outcome.outNeeded, expectedLength)
            XCTAssertTrue(outcome.cleared)
        }
        let exact = preparse(wrapped, capacity: expectedLength)
        XCTAssertEqual(exact.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(exact.row?.utf8.count, expectedLength)
        XCTAssertTrue(exact.rowIsOutput)
    }

    // MARK: node identity

    private func connected(_ extra: String, wrappedID: Int? = nil) -> String {
        let fields = #""msg":"system.connected","ts":"2024-06-11T10:00:00Z","network_id":"12D3KooWTestPeer","#
            + #""name":"kettle","chain":"Tetcore Testnet","version":"0.9.3","implementation":"Tetcore Node""#
            + extra
        guard let id = wrappedID else { return "{\(fields)}" }
        return #"{"id":\#(id),"ts":"2024-06-11T10:00:00Z","payload":{\#(fields)}}"#
    }

    func testSystemConnectedFields() {
        let outcome = preparse(connected(#","authority":true,"startup_time":"1718099432117""#))
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertTrue(outcome.fromConnected)
        XCTAssertEqual(outcome.peerID, "12D3KooWTestPeer")
        XCTAssertEqual(outcome.name, "kettle")
        XCTAssertEqual(outcome.chain, "Tetcore Testnet")
        XCTAssertEqual(outcome.version, "0.9.3")
        XCTAssertEqual(outcome.implementation, "Tetcore Node")
        XCTAssertEqual(outcome.authority, 1)
        XCTAssertEqual(outcome.startupTime, 1_718_099_432_117)
    }

    func testSystemConnectedInsideAWrappedMessage() {
        let outcome = preparse(connected(#","authority":false"#, wrappedID: 5))
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.nodeID, 5)
        XCTAssertTrue(outcome.fromConnected)
        XCTAssertEqual(outcome.peerID, "12D3KooWTestPeer")
        XCTAssertEqual(outcome.authority, 0)
        XCTAssertNil(outcome.startupTime)
    }

    func testAuthorityIsOnlyAJSONBoolean() {
        XCTAssertEqual(preparse(connected(#","authority":true"#)).authority, 1)
        XCTAssertEqual(preparse(connected(#","authority":false"#)).authority, 0)
        XCTAssertEqual(preparse(connected("")).authority, -1)
        XCTAssertEqual(preparse(connected(#","authority":"true""#)).authority, -1)
        XCTAssertEqual(preparse(connected(#","authority":1"#)).authority, -1)
        XCTAssertEqual(preparse(connected(#","authority":null"#)).authority, -1)
    }

    func testStartupTimeIsAnIntegerOrADecimalString() {
        func startup(_ json: String) -> Int64? { preparse(connected(#","startup_time":"# + json)).startupTime }
        XCTAssertEqual(startup("1718099432117"), 1_718_099_432_117)
        XCTAssertEqual(startup(#""1718099432117""#), 1_718_099_432_117)
        XCTAssertEqual(startup(#""0""#), 0)
        XCTAssertEqual(startup(#""9223372036854775807""#), .max)
        XCTAssertNil(startup(#""9223372036854775808""#), "does not fit in int64")
        XCTAssertNil(startup(#""99999999999999999999999""#))
        XCTAssertNil(startup(#""""#))
        XCTAssertNil(startup(#""-5""#))
        XCTAssertNil(startup(#""12a""#))
        XCTAssertNil(startup(#"" 12""#))
        XCTAssertNil(startup("1718099432117.5"))
        XCTAssertNil(startup("null"))
        XCTAssertNil(preparse(connected("")).startupTime)
    }

    func testNonStringIdentityFieldsAreAbsent() {
        let text = #"{"msg":"system.connected","ts":"2024-06-11T10:00:00Z","network_id":7,"name":null,"chain":["x"]}"#
        let outcome = preparse(text)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertTrue(outcome.fromConnected)
        XCTAssertNil(outcome.peerID)
        XCTAssertNil(outcome.name)
        XCTAssertNil(outcome.chain)
        XCTAssertNil(outcome.version)
    }

    func testOlderNodesPeerIDFromNetworkState() {
        let outcome = preparse(#"{"msg":"system.network_state","ts":"2024-06-11T10:00:00Z","state":{"peerId":"QmOlderNode","connectedPeers":{}}}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.peerID, "QmOlderNode")
        XCTAssertFalse(outcome.fromConnected)
        XCTAssertNil(outcome.name)
        XCTAssertEqual(outcome.authority, -1)
        XCTAssertNil(outcome.startupTime)
    }

    func testOlderNodesPeerIDFromInterval() {
        let outcome = preparse(#"{"msg":"system.interval","ts":"2024-06-11T10:00:00Z","peers":4,"network_state":{"peerId":"QmIntervalNode"}}"#)
        XCTAssertEqual(outcome.peerID, "QmIntervalNode")
        XCTAssertFalse(outcome.fromConnected)
    }

    func testStatePeerIDWinsOverNetworkStatePeerID() {
        let outcome = preparse(#"{"ts":"2024-06-11T10:00:00Z","network_state":{"peerId":"second"},"state":{"peerId":"first"}}"#)
        XCTAssertEqual(outcome.peerID, "first")
        let fallback = preparse(#"{"ts":"2024-06-11T10:00:00Z","network_state":{"peerId":"second"},"state":{"peerId":1}}"#)
        XCTAssertEqual(fallback.peerID, "second")
    }

    func testMessagesWithoutIdentityHaveNoPeerID() {
        let outcome = preparse(#"{"msg":"block.import","ts":"2024-06-11T10:00:00Z","state":"Ready"}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertNil(outcome.peerID)
        XCTAssertEqual(outcome.authority, -1)
    }

    func testWithoutNodeInfoNothingIsLookedUp() {
        let outcome = preparse(connected(#","authority":true,"startup_time":5"#), wantNodeInfo: false)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.msg, "system.connected")
        XCTAssertNil(outcome.peerID)
        XCTAssertNil(outcome.name)
        XCTAssertEqual(outcome.authority, -1)
        XCTAssertNil(outcome.startupTime)
        XCTAssertFalse(outcome.fromConnected)
        let older = preparse(#"{"ts":"2024-06-11T10:00:00Z","state":{"peerId":"x"}}"#, wantNodeInfo: false)
        XCTAssertNil(older.peerID)
    }

    // MARK: rejects

    private func assertRejected(_ text: String, _ expected: ts_json_result, file: StaticString = #filePath,
                                line: UInt = #line) {
        let outcome = preparse(text)
        XCTAssertEqual(outcome.status, expected.rawValue, text, file: file, line: line)
        XCTAssertTrue(outcome.cleared, "nothing to release: \(text)", file: file, line: line)
        XCTAssertEqual(outcome.outNeeded, 0, text, file: file, line: line)
    }

    func testNotJSONIsInvalid() {
        for text in ["", " ", "{", "msg", #"{"msg":"x","ts":"2024-06-11T10:00:00Z"} {}"#,
                     #"{"msg":"x","ts":"2024-06-11T10:00:00Z",}"#, #"{'msg':'x'}"#, "\u{FEFF}{}"] {
            assertRejected(text, TS_JSON_EINVALID)
        }
        let invalidUTF8: [UInt8] = Array(#"{"msg":""#.utf8) + [0xC3, 0x28] + Array(#"","ts":"2024-06-11T10:00:00Z"}"#.utf8)
        XCTAssertEqual(preparse(invalidUTF8).status, TS_JSON_EINVALID.rawValue)
        let rawNUL: [UInt8] = Array(#"{"msg":"a"#.utf8) + [0] + Array(#"","ts":"2024-06-11T10:00:00Z"}"#.utf8)
        XCTAssertEqual(preparse(rawNUL).status, TS_JSON_EINVALID.rawValue, "unescaped control characters are not JSON")
    }

    /// Numbers are checked for syntax only and stored as sent (jsonb keeps
    /// arbitrary precision), so no integer is too big.
    func testIntegerBeyondInt64IsStoredAsSent() {
        let outcome = preparse(#"{"msg":"x","ts":"2024-06-11T10:00:00Z","n":92233720368547758089}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertTrue(outcome.rowIsInput)
    }

    /// Escapes are checked for syntax here; a lone surrogate is valid JSON
    /// text that jsonb refuses, so PostgreSQL rejects that one row and the
    /// batch writer stores the others (the ingestion fault tests show it).
    func testLoneSurrogateEscapePassesThePreparse() {
        XCTAssertEqual(preparse(#"{"s":"\ud800","ts":"2024-06-11T10:00:00Z"}"#).status, TS_JSON_OK.rawValue)
    }

    func testNestingDeeperThan256LevelsIsInvalid() {
        let deep = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
        XCTAssertEqual(preparse(#"{"ts":"2024-06-11T10:00:00Z","a":\#(deep)}"#).status, TS_JSON_EINVALID.rawValue)
        let fits = String(repeating: "[", count: 255) + String(repeating: "]", count: 255)
        XCTAssertEqual(preparse(#"{"ts":"2024-06-11T10:00:00Z","a":\#(fits)}"#).status, TS_JSON_OK.rawValue)
    }

    /// yajl decodes a string with escapes in a buffer that doubles from
    /// 2 KiB: 6,000 escapes outgrow the scan's stack arena (4 KiB), so the
    /// buffer moves to the heap mid-scan; what follows is still read.
    func testEscapedStringsLargerThanTheScansArena() {
        let escapes = String(repeating: #"\n"#, count: 6_000)
        let outcome = preparse(#"{"a":"\#(escapes)","b":"\#(escapes)\#(escapes)","msg":"sys\u0074em.interval","ts":"2024-06-11T10:00:00Z"}"#)
        XCTAssertEqual(outcome.status, TS_JSON_OK.rawValue)
        XCTAssertEqual(outcome.msg, "system.interval")
        XCTAssertEqual(outcome.createdAt, 1_718_100_000_000_000)
    }

    func testJSONThatIsNotAnObject() {
        for text in ["[]", #"[{"ts":"2024-06-11T10:00:00Z"}]"#, "42", #""2024-06-11T10:00:00Z""#, "null", "true"] {
            assertRejected(text, TS_JSON_ENOTOBJECT)
        }
    }

    func testPayloadThatIsNotAnObject() {
        for payload in ["[]", "1", #""{}""#, "null", "false"] {
            assertRejected(#"{"id":1,"ts":"2024-06-11T10:00:00Z","payload":\#(payload)}"#, TS_JSON_ENOTOBJECT)
        }
    }

    func testWrappedIDThatIsNotANonNegativeInteger() {
        for id in ["-1", "1.0", "1e3", #""3""#, "null", "true", "{}", "[]"] {
            assertRejected(#"{"id":\#(id),"ts":"2024-06-11T10:00:00Z","payload":{"msg":"x"}}"#, TS_JSON_EBADID)
        }
    }

    func testBadTimestamps() {
        assertRejected(#"{"msg":"block.import"}"#, TS_JSON_EBADTS)
        for ts in ["1718100000", "null", #""""#, #""yesterday""#, #""2024-06-11T10:00:00""#,
                   #""2024-02-30T10:00:00Z""#, #""2024-06-11T10:00:00.Z""#, #""2024-06-11T10:00:00Z\u0000""#] {
            assertRejected(#"{"msg":"block.import","ts":\#(ts)}"#, TS_JSON_EBADTS)
            assertRejected(#"{"id":1,"ts":\#(ts),"payload":{"msg":"x","ts":"2024-06-11T10:00:00Z"}}"#, TS_JSON_EBADTS)
        }
        assertRejected(#"{"id":1,"payload":{"msg":"x"}}"#, TS_JSON_EBADTS)
    }

    func testIDIsCheckedBeforeTimestampAndBothBeforeSpace() {
        assertRejected(#"{"id":-1,"payload":{}}"#, TS_JSON_EBADID)
        let outcome = preparse(#"{"id":1,"ts":"late","payload":{"msg":"x"}}"#, capacity: 0)
        XCTAssertEqual(outcome.status, TS_JSON_EBADTS.rawValue)
    }
}
