import CSupport
import XCTest

/// The Jansson pre-parse and the timestamp functions.
final class JSONPreparseTests: XCTestCase {
    private struct Parsed {
        let status: Int32
        var form = TS_JSON_FLAT
        var nodeID: Int64 = 0
        var createdAt: Int64 = 0
        var msg: String?
        var row: String = ""
        var peerID: String?
        var name: String?
        var authority: Int32 = -1
        var startupTime: Int64?
    }

    private func parse(_ json: String, outCapacity: Int = 4096) -> Parsed {
        var out = [CChar](repeating: 0, count: outCapacity)
        var needed = 0
        var message = ts_json_message()
        let bytes = Array(json.utf8)
        let status = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                ts_json_preparse($0.baseAddress, $0.count, 1, &out, out.count, &needed, &message)
            }
        }
        guard status == 0 else { return Parsed(status: status) }
        defer { ts_json_message_release(&message) }
        func text(_ s: ts_json_str) -> String? {
            s.ptr.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: s.len), as: UTF8.self) }
        }
        return Parsed(status: status, form: message.form, nodeID: message.node_id, createdAt: message.created_at_us,
                      msg: text(message.msg), row: String(decoding: UnsafeRawBufferPointer(start: message.row, count: message.row_len), as: UTF8.self),
                      peerID: text(message.node.peer_id), name: text(message.node.name), authority: message.node.authority,
                      startupTime: message.node.has_startup_time != 0 ? message.node.startup_time : nil)
    }

    private func object(_ row: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(row.utf8))) as? [String: Any] ?? [:]
    }

    func testFlatMessageIsStoredAsSent() {
        let json = #"{"msg":"system.interval","ts":"2020-08-19T10:07:15.014301337+00:00","level":"INFO","peers":39}"#
        let parsed = parse(json)
        XCTAssertEqual(parsed.status, 0)
        XCTAssertEqual(parsed.form, TS_JSON_FLAT)
        XCTAssertEqual(parsed.msg, "system.interval")
        XCTAssertEqual(parsed.row, json)
        XCTAssertEqual(parsed.createdAt, 1_597_831_635_014_301, "UTC microseconds, truncated")
    }

    func testWrappedMessageIsFlattenedWithTsAndId() {
        let parsed = parse(#"{"id":2,"ts":"2026-11-29T10:07:15.5+01:00","payload":{"msg":"block.import","height":7}}"#)
        XCTAssertEqual(parsed.status, 0)
        XCTAssertEqual(parsed.form, TS_JSON_WRAPPED)
        XCTAssertEqual(parsed.nodeID, 2)
        XCTAssertEqual(parsed.msg, "block.import")
        XCTAssertEqual(parsed.createdAt, 1_795_943_235_500_000, "09:07:15.5 UTC")
        let row = object(parsed.row)
        XCTAssertEqual(row["msg"] as? String, "block.import")
        XCTAssertEqual(row["height"] as? Int, 7)
        XCTAssertEqual(row["id"] as? Int, 2)
        XCTAssertEqual(row["ts"] as? String, "2026-11-29T10:07:15.5+01:00")
        XCTAssertNil(row["payload"])
    }

    func testWrappedMessageThatDoesNotFitAsksForTheRightSize() {
        let json = #"{"id":1,"ts":"2026-11-29T10:07:15Z","payload":{"msg":"x","pad":"0123456789012345678901234567890123456789"}}"#
        var small = [CChar](repeating: 0, count: 8)
        var needed = 0
        var message = ts_json_message()
        XCTAssertEqual(ts_json_preparse(json, json.utf8.count, 0, &small, small.count, &needed, &message), TS_JSON_ENOSPC.rawValue)
        XCTAssertGreaterThan(needed, 50)
        var exact = [CChar](repeating: 0, count: needed)
        XCTAssertEqual(ts_json_preparse(json, json.utf8.count, 0, &exact, exact.count, &needed, &message), 0)
        XCTAssertEqual(message.row_len, needed)
        ts_json_message_release(&message)
    }

    func testSystemConnectedGivesNodeInfo() {
        let parsed = parse(#"{"msg":"system.connected","ts":"2026-01-01T00:00:00Z","network_id":"12D3KooWabc","name":"alice","authority":true,"startup_time":"1700000000123"}"#)
        XCTAssertEqual(parsed.peerID, "12D3KooWabc")
        XCTAssertEqual(parsed.name, "alice")
        XCTAssertEqual(parsed.authority, 1)
        XCTAssertEqual(parsed.startupTime, 1_700_000_000_123)
        XCTAssertEqual(parse(#"{"msg":"system.connected","ts":"2026-01-01T00:00:00Z","network_id":"p","startup_time":42}"#).startupTime, 42)
    }

    func testOlderNodesPeerIDFromStateOrNetworkState() {
        XCTAssertEqual(parse(#"{"msg":"system.network_state","ts":"2026-01-01T00:00:00Z","state":{"peerId":"QmOld"}}"#).peerID, "QmOld")
        XCTAssertEqual(parse(#"{"msg":"system.interval","ts":"2026-01-01T00:00:00Z","network_state":{"peerId":"QmOlder"}}"#).peerID, "QmOlder")
        XCTAssertNil(parse(#"{"msg":"system.interval","ts":"2026-01-01T00:00:00Z"}"#).peerID)
    }

    func testRejectsByReason() {
        XCTAssertEqual(parse("not json").status, TS_JSON_EINVALID.rawValue)
        XCTAssertEqual(parse("[1,2]").status, TS_JSON_ENOTOBJECT.rawValue)
        XCTAssertEqual(parse(#"{"id":1,"ts":"2026-01-01T00:00:00Z","payload":5}"#).status, TS_JSON_ENOTOBJECT.rawValue)
        XCTAssertEqual(parse(#"{"msg":"x"}"#).status, TS_JSON_EBADTS.rawValue)
        XCTAssertEqual(parse(#"{"msg":"x","ts":"yesterday"}"#).status, TS_JSON_EBADTS.rawValue)
        XCTAssertEqual(parse(#"{"msg":"x","ts":12}"#).status, TS_JSON_EBADTS.rawValue)
        XCTAssertEqual(parse(#"{"id":-1,"ts":"2026-01-01T00:00:00Z","payload":{}}"#).status, TS_JSON_EBADID.rawValue)
        XCTAssertEqual(parse(#"{"id":"a","ts":"2026-01-01T00:00:00Z","payload":{}}"#).status, TS_JSON_EBADID.rawValue)
    }

    func testNulEscapesAreLeftForPostgreSQLToJudge() {
        XCTAssertEqual(parse(#"{"msg":"x","ts":"2026-01-01T00:00:00Z","v":"a\u0000b"}"#).status, 0)
    }

    func testTimestampForms() {
        func us(_ text: String, naive: Bool = false) -> Int64? {
            var value: Int64 = 0
            return ts_time_parse(text, text.utf8.count, naive ? TS_TIME_ALLOW_NAIVE : TS_TIME_RFC3339, &value) == 0 ? value : nil
        }
        XCTAssertEqual(us("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(us("1970-01-01T01:00:00+01:00"), 0)
        XCTAssertEqual(us("1969-12-31T19:00:00.5-05:00"), 500_000)
        XCTAssertEqual(us("1969-12-31T23:59:59.9999999Z"), -1, "truncated, before 1970")
        XCTAssertEqual(us("2020-03-25T13:17:09.123456789Z"), 1_585_142_229_123_456)
        XCTAssertEqual(us("2020-03-25 13:17:09z"), 1_585_142_229_000_000)
        XCTAssertEqual(us("2000-02-29T00:00:00Z"), 951_782_400_000_000, "2000 is a leap year")
        XCTAssertNil(us("1900-02-29T00:00:00Z"), "1900 is not")
        XCTAssertNil(us("2020-03-25T13:17:09"), "RFC 3339 needs an offset")
        XCTAssertEqual(us("2020-03-25T13:17:09", naive: true), 1_585_142_229_000_000)
        for bad in ["2020-13-01T00:00:00Z", "2020-04-31T00:00:00Z", "2020-01-01T24:00:00Z", "2020-01-01T00:00:00.Z",
                    "2020-01-01T00:00:00+0100", "2020-01-01T00:00:00Zjunk", "2020-1-01T00:00:00Z", ""] {
            XCTAssertNil(us(bad), bad)
        }
    }

    func testTimestampFormatRoundTrips() {
        var text = [CChar](repeating: 0, count: Int(TS_TIME_FORMAT_LEN) + 1)
        XCTAssertEqual(ts_time_format(1_585_142_229_008_533, &text), 0)
        XCTAssertEqual(String(cString: text), "2020-03-25T13:17:09.008533")
        XCTAssertEqual(ts_time_format(-1, &text), 0)
        XCTAssertEqual(String(cString: text), "1969-12-31T23:59:59.999999")
    }
}
