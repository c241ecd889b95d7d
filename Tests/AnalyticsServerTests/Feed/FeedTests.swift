import Foundation
@testable import TestSupport
import XCTest

/// /feed over real sockets against a real server and PostgreSQL.
final class FeedTests: ServerTestCase {
    /// A test client answers the server's pings only while it reads: a
    /// long CLIENT_TIMEOUT_S keeps a busy test (inserting rows on a loaded
    /// machine) from being dropped as silent, which is not under test here.
    override var extraEnvironment: [String: String] { ["CACHE_UPDATE_INTERVAL_MS": "100", "CLIENT_TIMEOUT_S": "600"] }

    private var rows: FeedRows { FeedRows(database: database) }

    func testBacklogThenLiveMessagesInCreatedAtOrderWithoutInternalFields() throws {
        let connection = try rows.connection(peer: "QmFeed")
        let other = try rows.connection(peer: "QmOther")
        let base = FeedTimes.alignedPast(minutesAgo: 10)
        for second in 0..<4 {
            try rows.insert(connection: connection, createdAtUs: base + Int64(second) * 1_000_000, [
                "msg": "block.import", "height": second, "best": "0x\(second)", "level": "INFO", "line": 7, "id": 3,
            ])
        }
        try rows.insert(connection: connection, createdAtUs: base + 500_000, ["msg": "system.interval", "peers": 1])
        try rows.insert(connection: other, createdAtUs: base + 500_000, ["msg": "block.import", "height": 99])

        let client = try FeedTestClient(port: server.port)
        try client.send(["peer_id": "QmFeed", "msg": "block.import", "interest": "subscribe",
                         "start_time": FeedTimes.text(base + 1_500_000)])
        let backlog = try client.nextData(peer: "QmFeed", msg: "block.import")
        XCTAssertEqual(backlog.map { $0["height"] as? Int }, [2, 3])
        XCTAssertEqual(backlog.first?["created_at"] as? String, FeedTimes.text(base + 2_000_000))
        XCTAssertEqual(Set(backlog.first?.keys.map { $0 } ?? []), ["height", "best", "created_at"])

        // Live rows, one committed out of created_at order.
        try rows.insert(connection: connection, createdAtUs: base + 10_000_000, ["msg": "block.import", "height": 10])
        XCTAssertEqual(try client.nextData(peer: "QmFeed", msg: "block.import").map { $0["height"] as? Int }, [10])
        try rows.insert(connection: connection, createdAtUs: base + 9_000_000, ["msg": "block.import", "height": 9])
        try rows.insert(connection: connection, createdAtUs: base + 11_000_000, ["msg": "block.import", "height": 11])
        let live = try client.collect(2, peer: "QmFeed", msg: "block.import")
        XCTAssertEqual(live.map { $0["height"] as? Int }, [9, 11])
        XCTAssertTrue(client.isQuiet(for: 1), "nothing is sent twice across refreshes")
    }

    func testManyRowsAcrossRefreshesArriveOnceEachAndInOrder() throws {
        let connection = try rows.connection(peer: "QmMany")
        let base = FeedTimes.alignedPast(minutesAgo: 5)
        let client = try FeedTestClient(port: server.port)
        try client.send(["peer_id": "QmMany", "msg": "m", "interest": "subscribe", "start_time": FeedTimes.text(base - 1)])
        for round in 0..<20 {
            for index in 0..<10 {
                let sequence = round * 10 + index
                try rows.insert(connection: connection, createdAtUs: base + Int64(sequence) * 1000, ["msg": "m", "seq": sequence])
            }
            usleep(30_000) // several refreshes run while rows keep coming
        }
        let items = try client.collect(200, peer: "QmMany", msg: "m")
        XCTAssertEqual(items.compactMap { $0["seq"] as? Int }, Array(0..<200))
        XCTAssertTrue(client.isQuiet(for: 1))
    }

    func testEachAggregateMatchesItsDefinitionPerTargetNameAndInterval() throws {
        let connection = try rows.connection(peer: "QmProf")
        let start = FeedTimes.alignedPast(minutesAgo: 20, multiple: 10)
        let timings: [(target: String, name: String, offsetMs: Int64, time: Double)] = [
            ("babe", "author", 100, 40), ("babe", "author", 2000, 10), ("babe", "author", 3000, 30),
            ("babe", "author", 4000, 20), ("babe", "import", 5000, 7), ("grandpa", "vote", 9999, 1000),
            ("babe", "author", 12_000, 500), // second interval
            ("babe", "author", 20_000, 1),   // completes the second interval
        ]
        for timing in timings {
            try rows.insert(connection: connection, createdAtUs: start + timing.offsetMs * 1000, [
                "msg": "tracing.profiling", "target": timing.target, "name": timing.name, "time": timing.time, "values": "x",
            ])
        }
        let expected: [String: [Double]] = [
            "mean": [25, 7, 1000, 500], "median": [25, 7, 1000, 500], "min": [10, 7, 1000, 500],
            "max": [40, 7, 1000, 500], "percentile90": [40, 7, 1000, 500],
        ]
        for (type, values) in expected.sorted(by: { $0.key < $1.key }) {
            let client = try FeedTestClient(port: server.port)
            try client.send(["peer_id": "QmProf", "msg": "tracing.profiling", "interest": "subscribe",
                             "start_time": FeedTimes.text(start - 1), "aggregate_type": type.uppercased(), "aggregate_interval": 10])
            let items = try client.collect(4, peer: "QmProf", msg: "tracing.profiling")
            XCTAssertEqual(items.map { $0["time"] as? Double }, values.map { $0 }, type)
            XCTAssertEqual(items.map { "\($0["target"] ?? "")/\($0["name"] ?? "")" },
                           ["babe/author", "babe/import", "grandpa/vote", "babe/author"], type)
            XCTAssertEqual(items.map { $0["created_at"] as? String },
                           [start, start, start, start + 10_000_000].map(FeedTimes.text), type)
            XCTAssertEqual(items.first?["values"] as? String, "")
            XCTAssertTrue(client.isQuiet(for: 1), "the third interval is not complete: \(type)")
        }
    }

    func testPercentile90IsTheNearestRankOfTenValues() throws {
        let connection = try rows.connection(peer: "QmP90")
        let start = FeedTimes.alignedPast(minutesAgo: 30, multiple: 60)
        let values: [Double] = [5, 1, 9, 3, 7, 10, 2, 8, 4, 6, 100] // the last one is in the next interval
        for (index, value) in values.enumerated() {
            let offset = index < 10 ? Int64(index) * 1_000_000 : 60_000_000
            try rows.insert(connection: connection, createdAtUs: start + offset,
                            ["msg": "tracing.profiling", "target": "t", "name": "n", "time": value])
        }
        let client = try FeedTestClient(port: server.port)
        try client.send(["peer_id": "QmP90", "msg": "tracing.profiling", "interest": "subscribe",
                         "aggregate_type": "percentile90", "aggregate_interval": 60])
        // Nearest rank: ceil(0.9 * 10) = 9th smallest of 1...10.
        let items = try client.nextData(peer: "QmP90", msg: "tracing.profiling")
        XCTAssertEqual(items.map { $0["time"] as? Double }, [9])

        // A new aggregate subscription replaces the old one.
        try client.send(["peer_id": "QmP90", "msg": "tracing.profiling", "interest": "subscribe",
                         "aggregate_type": "Median", "aggregate_interval": 60])
        XCTAssertEqual(try client.nextData(peer: "QmP90", msg: "tracing.profiling").map { $0["time"] as? Double }, [5.5])
        try rows.insert(connection: connection, createdAtUs: start + 180_000_000,
                        ["msg": "tracing.profiling", "target": "t", "name": "n", "time": 1])
        XCTAssertEqual(try client.nextData(peer: "QmP90", msg: "tracing.profiling").map { $0["time"] as? Double }, [100])
        XCTAssertTrue(client.isQuiet(for: 1), "only the replacing subscription sends")
    }

    func testUnsubscribeStopsMessages() throws {
        let connection = try rows.connection(peer: "QmUnsub")
        let base = FeedTimes.alignedPast(minutesAgo: 3)
        try rows.insert(connection: connection, createdAtUs: base, ["msg": "m", "n": 1])
        let client = try FeedTestClient(port: server.port)
        try client.send(["peer_id": "QmUnsub", "msg": "m", "interest": "subscribe", "start_time": FeedTimes.text(base - 1)])
        XCTAssertEqual(try client.nextData(peer: "QmUnsub", msg: "m").count, 1)
        try client.send(["peer_id": "QmUnsub", "msg": "m", "interest": "unsubscribe"])
        try client.roundTrip()
        try rows.insert(connection: connection, createdAtUs: base + 1_000_000, ["msg": "m", "n": 2])
        XCTAssertTrue(client.isQuiet(for: 1))
        let metrics = try Scrape.of(server)
        XCTAssertEqual(metrics["current_feed_connections"], 1)
        XCTAssertEqual(metrics["feeds_connected"], 1)
        XCTAssertEqual(metrics["feeds_disconnected"], 0)
        try client.raw.send(RawClient.frame(opcode: 0x8, [0x03, 0xE8]))
        eventually(60, "the closed feed is counted") {
            let after = try Scrape.of(self.server)
            return after["feeds_disconnected"] == 1 && after["current_feed_connections"] == 0
        }
    }

    func testBadMessagesGetAnErrorNamingTheProblemAndTheConnectionLives() throws {
        let client = try FeedTestClient(port: server.port)
        let cases: [(String, String)] = [
            ("not json", "a subscription must be a JSON object"),
            (#"{"msg": "m", "interest": "subscribe"}"#, "missing peer_id"),
            (#"{"peer_id": 5, "msg": "m", "interest": "subscribe"}"#, "peer_id must be a non-empty string"),
            (#"{"peer_id": "P", "interest": "subscribe"}"#, "missing msg"),
            (#"{"peer_id": "P", "msg": "m", "interest": "watch"}"#, #"interest must be "subscribe" or "unsubscribe""#),
            (#"{"peer_id": "P", "msg": "m", "interest": "subscribe", "start_time": "yesterday"}"#,
             "start_time is not a timestamp like 2020-03-25T13:17:09: yesterday"),
            (#"{"peer_id": "P", "msg": "m", "interest": "subscribe", "aggregate_type": "mode", "aggregate_interval": 5}"#,
             "unknown aggregate_type mode: use one of mean, median, min, max, percentile90"),
            (#"{"peer_id": "P", "msg": "m", "interest": "subscribe", "aggregate_type": "mean"}"#,
             "missing aggregate_interval (whole seconds, at least 1)"),
            (#"{"peer_id": "P", "msg": "m", "interest": "subscribe", "aggregate_type": "mean", "aggregate_interval": 0}"#,
             "aggregate_interval must be whole seconds from 1 to 31622400: 0"),
            (#"{"peer_id": "P", "msg": "m", "interest": "subscribe", "aggregate_type": "mean", "aggregate_interval": 1.5}"#,
             "aggregate_interval must be whole seconds from 1 to 31622400: 1.5"),
            (#"{"peer_id": "P", "msg": "m", "interest": "subscribe", "aggregate_interval": 5}"#,
             "aggregate_interval given without aggregate_type"),
        ]
        for (message, error) in cases {
            try client.raw.sendText(message)
            XCTAssertEqual(try client.next()["error"] as? String, error, message)
        }
        try client.raw.sendBinary(#"{"peer_id": "P", "msg": "m", "interest": "subscribe"}"#)
        XCTAssertEqual(try client.next()["error"] as? String, "subscriptions are JSON text messages, not binary")

        let connection = try rows.connection(peer: "P")
        try rows.insert(connection: connection, createdAtUs: FeedTimes.alignedPast(minutesAgo: 1), ["msg": "m", "ok": true])
        try client.send(["peer_id": "P", "msg": "m", "interest": "subscribe"])
        XCTAssertEqual(try client.nextData(peer: "P", msg: "m").first?["ok"] as? Bool, true)
    }

    func testSlowClientIsClosedWith1008AndCounted() throws {
        server = try startServer(["FEED_MAX_CLIENT_BACKLOG_BYTES": "65536"])
        let connection = try rows.bigBacklog(peer: "QmSlow", rows: 10000)
        let client = try FeedTestClient(port: server.port)
        try client.send(["peer_id": "QmSlow", "msg": "big", "interest": "subscribe"])
        client.waitUntilBuffersAreFull() // not reading: the socket's buffers fill up with the backlog
        for sequence in 0..<100 { // 200 KB of new rows the client does not take
            try rows.insert(connection: connection, createdAtUs: FeedTimes.nowUs - 1_000_000,
                            ["msg": "big", "seq": 20000 + sequence, "filler": String(repeating: "y", count: 2000)])
        }
        // Counted before the client reads anything: reading sooner could
        // drain what the server holds below the limit first.
        eventually(60, "slow client counted") {
            try self.server.get("/metrics").body.contains("tetcore_feed_clients_too_slow_total 1\n")
        }
        XCTAssertEqual(try client.raw.readCloseCode(), 1008)
    }

    func testABacklogLargerThanTheLimitReachesAClientThatReads() throws {
        server = try startServer(["FEED_MAX_CLIENT_BACKLOG_BYTES": "65536"])
        _ = try rows.bigBacklog(peer: "QmLong", rows: 10000)
        let client = try FeedTestClient(port: server.port)
        try client.send(["peer_id": "QmLong", "msg": "big", "interest": "subscribe"])
        let items = try client.collect(10000, peer: "QmLong", msg: "big")
        XCTAssertEqual(items.compactMap { $0["seq"] as? Int }, Array(1...10000), "20 MB paced through a 64 KiB limit")
        XCTAssertTrue(try server.get("/metrics").body.contains("tetcore_feed_clients_too_slow_total 0\n"))
    }

    func testASlowRefreshIsReportedThenAbandonedAndTheFeedRecovers() throws {
        server = try startServer(["CACHE_UPDATE_TIMEOUT_S": "1"])
        let connection = try rows.connection(peer: "QmStuck")
        // Another session holds the table until the refresh was abandoned:
        // every refresh waits.
        let locker = try database.holdLock(on: "tetcore_logs")
        defer { locker.release() }
        let client = try FeedTestClient(port: server.port)
        try client.send(["peer_id": "QmStuck", "msg": "m", "interest": "subscribe"])
        eventually(60, "slow refresh reported") { self.server.log.contains("feed cache refresh is slow") }
        eventually(60, "refresh abandoned at 4 x CACHE_UPDATE_TIMEOUT_S") {
            try self.server.get("/metrics").body.contains("tetcore_feed_refreshes_abandoned_total 1\n")
        }
        XCTAssertTrue(server.log.contains("feed cache refresh abandoned"))
        locker.release()
        try rows.insert(connection: connection, createdAtUs: FeedTimes.nowUs - 1_000_000, ["msg": "m", "after": "lock"])
        XCTAssertEqual(try client.nextData(peer: "QmStuck", msg: "m").first?["after"] as? String, "lock")
    }

    func testMessagesAnotherInstanceStoresAppearOnThisInstancesFeed() throws {
        let second = try startServer()
        defer { _ = second.terminate() }
        let client = try FeedTestClient(port: server.port)
        try client.send(["peer_id": "12D3KooWSecond", "msg": "tracing.profiling", "interest": "subscribe"])
        let node = try RawClient(port: second.port)
        XCTAssertEqual(try node.upgrade(), 101)
        try node.sendText(FeedNodeMessages.connected(peer: "12D3KooWSecond"))
        try node.sendText(FeedNodeMessages.profiling(target: "babe", name: "author", time: 1234))
        let items = try client.nextData(peer: "12D3KooWSecond", msg: "tracing.profiling")
        XCTAssertEqual(items.first?["time"] as? Int, 1234)
        XCTAssertEqual(items.first?["target"] as? String, "babe")
    }

    func testThisInstancesMessagesArriveWithoutWaitingForTheRefreshInterval() throws {
        server = try startServer(["CACHE_UPDATE_INTERVAL_MS": "60000"])
        let client = try FeedTestClient(port: server.port)
        try client.send(["peer_id": "12D3KooWLocal", "msg": "tracing.profiling", "interest": "subscribe"])
        let node = try RawClient(port: server.port)
        XCTAssertEqual(try node.upgrade(), 101)
        try node.sendText(FeedNodeMessages.connected(peer: "12D3KooWLocal"))
        try client.roundTrip() // the subscription is in place before the message comes
        try node.sendText(FeedNodeMessages.profiling(target: "babe", name: "author", time: 77))
        // The first refresh tick comes 60 s after the server started: what
        // arrives before then came with the commit.
        let firstTick = server.launchedAt.addingTimeInterval(60)
        let items = try client.nextData(peer: "12D3KooWLocal", msg: "tracing.profiling",
                                        timeout: max(1, Int(firstTick.timeIntervalSinceNow)))
        XCTAssertEqual(items.first?["time"] as? Int, 77)
        XCTAssertLessThan(Date(), firstTick, "delivered on commit, not at the next 60 s refresh")
    }
}

/// Telemetry as a node sends it, timestamped now.
enum FeedNodeMessages {
    static func connected(peer: String) -> String {
        #"{"msg":"system.connected","ts":"\#(now())","network_id":"\#(peer)","name":"feed-test","chain":"Tetcore","version":"1.0"}"#
    }

    static func profiling(target: String, name: String, time: Int) -> String {
        #"{"msg":"tracing.profiling","ts":"\#(now())","level":"INFO","line":3,"target":"\#(target)","name":"\#(name)","time":\#(time),"values":""}"#
    }

    static func now() -> String {
        FeedTimes.text(FeedTimes.nowUs) + "Z"
    }
}
