@testable import AnalyticsServer
@testable import TestSupport
import XCTest
@testable import PostgresClient

/// The cache's merge of refresh results, the aggregates and the request
/// parser, without a server.
final class FeedCacheTests: XCTestCase {
    private let key = FeedKey(peerID: "P", msg: "m")

    /// Rows as the refresh query returns them: (id, created_at µs, time).
    private func result(_ rows: [(Int64, Int64, Double?)]) -> PGRows {
        PGRows(columnNames: ["id", "created_at", "json", "time", "target", "name"],
               rows: rows.map { ["\($0.0)", "\($0.1)", #"{"n":\#($0.0)}"#, $0.2.map { "\($0)" }, "t", "n"] })
    }

    func testRefreshesDeliverEachRowOnceIncludingRowsCommittedLateWithinTheWindow() {
        let cache = FeedCache(key: key, nowMs: 0)
        let now: Int64 = 1_000_000_000_000
        let expiry: Int64 = 3_600_000_000
        XCTAssertEqual(cache.nextLowerBound(nowUs: now, expiryUs: expiry), now - expiry)
        XCTAssertEqual(cache.merge(result([(1, now - 10_000_000, nil), (2, now - 5_000_000, nil)])).map(\.id), [1, 2])
        XCTAssertTrue(cache.isLoaded)

        // The next query starts a minute before the newest row; rows seen are dropped by id.
        XCTAssertEqual(cache.nextLowerBound(nowUs: now, expiryUs: expiry), now - 5_000_000 - FeedCache.lateRowWindowUs)
        let late = cache.merge(result([(1, now - 10_000_000, nil), (3, now - 7_000_000, nil), (2, now - 5_000_000, nil)]))
        XCTAssertEqual(late.map(\.id), [3], "only the row committed late")
        XCTAssertEqual(cache.rows.map(\.id), [1, 3, 2], "kept in created_at order")
        XCTAssertEqual(cache.merge(result([(1, now - 10_000_000, nil), (3, now - 7_000_000, nil)])).count, 0)
    }

    func testRowsPastTheExpiryLeaveTheCache() {
        let cache = FeedCache(key: key, nowMs: 0)
        let expiry: Int64 = 60_000_000
        _ = cache.nextLowerBound(nowUs: 100_000_000, expiryUs: expiry)
        _ = cache.merge(result([(1, 50_000_000, nil), (2, 90_000_000, nil)]))
        _ = cache.nextLowerBound(nowUs: 120_000_000, expiryUs: expiry)
        XCTAssertEqual(cache.rows.map(\.id), [2])
    }

    func testAggregatorSendsAnIntervalOnceALaterMessageArrivesAndIgnoresLateOnes() {
        var aggregator = FeedAggregator(type: .mean, intervalSeconds: 10, startUs: Int64.min)
        func row(_ id: Int64, _ second: Int64, _ time: Double) -> FeedRow {
            FeedRow(id: id, createdAtUs: second * 1_000_000, json: "{}", time: time, target: "t", name: "n")
        }
        aggregator.add([row(1, 100, 2), row(2, 105, 4)])
        XCTAssertEqual(aggregator.completed(newestUs: 105_000_000), [])
        aggregator.add([row(3, 110, 8)])
        XCTAssertEqual(aggregator.completed(newestUs: 110_000_000),
                       [#"{"time":3,"name":"n","target":"t","values":"","created_at":"1970-01-01T00:01:40.000000"}"#])
        aggregator.add([row(4, 101, 1000)]) // its interval was sent: not counted
        aggregator.add([row(5, 121, 1)])
        XCTAssertEqual(aggregator.completed(newestUs: 121_000_000),
                       [#"{"time":8,"name":"n","target":"t","values":"","created_at":"1970-01-01T00:01:50.000000"}"#])
    }

    func testStatistics() {
        let values: [Double] = [7, 1, 3, 5]
        XCTAssertEqual(FeedAggregateType.mean.value(of: values), 4)
        XCTAssertEqual(FeedAggregateType.median.value(of: values), 4)
        XCTAssertEqual(FeedAggregateType.median.value(of: [3, 1, 2]), 2)
        XCTAssertEqual(FeedAggregateType.min.value(of: values), 1)
        XCTAssertEqual(FeedAggregateType.max.value(of: values), 7)
        XCTAssertEqual(FeedAggregateType.percentile90.value(of: values), 7)
        XCTAssertEqual(FeedAggregateType.percentile90.value(of: [42]), 42)
        XCTAssertEqual(FeedAggregateType.percentile90.value(of: (1...20).map(Double.init)), 18)
    }

    func testRequestParsing() {
        func parse(_ text: String) -> Result<FeedRequest, FeedRequestError> {
            Array(text.utf8).withUnsafeBytes { FeedRequest.parse($0) }
        }
        XCTAssertEqual(try parse(#"{"peer_id":"P","msg":"m","interest":"subscribe","start_time":"2020-03-25T13:17:09"}"#).get(),
                       .subscribe(key, startUs: 1_585_142_229_000_000, aggregate: nil))
        XCTAssertEqual(try parse(#"{"peer_id":"P","msg":"m","interest":"subscribe","aggregate_type":"MAX","aggregate_interval":30}"#).get(),
                       .subscribe(key, startUs: nil, aggregate: .init(type: .max, intervalSeconds: 30)))
        XCTAssertEqual(try parse(#"{"peer_id":"P","msg":"m","interest":"unsubscribe"}"#).get(), .unsubscribe(key))
        XCTAssertEqual(parse(#"{"peer_id":"P","msg":"m","interest":"subscribe","aggregate_type":"mean","aggregate_interval":true}"#),
                       .failure(.init("aggregate_interval must be whole seconds from 1 to 31622400: true")))
        XCTAssertEqual(try parse(#"{"peer_id":"P","msg":"m","interest":"subscribe","aggregate_type":"min","aggregate_interval":1}"#).get(),
                       .subscribe(key, startUs: nil, aggregate: .init(type: .min, intervalSeconds: 1)))
        XCTAssertEqual(parse(#"{"peer_id":"P","msg":"m","interest":"subscribe","aggregate_type":"min","aggregate_interval":false}"#),
                       .failure(.init("aggregate_interval must be whole seconds from 1 to 31622400: false")))
        XCTAssertEqual(parse(#"[1]"#), .failure(.init("a subscription must be a JSON object")))
    }

    func testJSONStringEscaping() {
        XCTAssertEqual(FeedJSON.string("a\"b\\c\n\u{1}é"), #""a\"b\\c\n\u0001é""#)
        XCTAssertEqual(FeedJSON.number(25), "25")
        XCTAssertEqual(FeedJSON.number(5.5), "5.5")
        XCTAssertEqual(FeedJSON.number(.nan), "null")
    }
}
