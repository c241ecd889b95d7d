@testable import TestSupport
import XCTest
@testable import WebServer

/// HTTPRequestParser on its own: bytes in, one request (or one refusal) out,
/// whatever the read boundaries. The statuses are the ones docs/api.md
/// promises: 400 malformed, 431 head over 16 KiB, 413 body over the limit,
/// 411 chunked body.
final class HTTPRequestParserTests: XCTestCase {
    /// What one `feed` call returned, in a form XCTAssertEqual can compare.
    private enum Fed: Equatable {
        case needMore
        case request
        case failure(Int)
    }

    /// Feeds `text` in pieces of `chunk` bytes (nil: all at once) until the
    /// parser yields an outcome; returns it and the bytes consumed in total.
    private func parse(_ text: String, maxBodyBytes: Int = 4096, chunk: Int? = nil,
                       parser: HTTPRequestParser? = nil) -> (consumed: Int, outcome: HTTPRequestParser.Outcome?) {
        parse(Array(text.utf8), maxBodyBytes: maxBodyBytes, chunk: chunk, parser: parser)
    }

    private func parse(_ bytes: [UInt8], maxBodyBytes: Int = 4096, chunk: Int? = nil,
                       parser: HTTPRequestParser? = nil) -> (consumed: Int, outcome: HTTPRequestParser.Outcome?) {
        let parser = parser ?? HTTPRequestParser(maxBodyBytes: maxBodyBytes)
        let step = chunk ?? max(bytes.count, 1)
        var offset = 0
        while offset < bytes.count {
            let piece = bytes[offset..<min(offset + step, bytes.count)]
            let (consumed, outcome) = piece.withUnsafeBytes { parser.feed($0) }
            offset += consumed
            if let outcome { return (offset, outcome) }
            if consumed < piece.count { return (offset, nil) } // it took no more without an outcome
        }
        return (offset, nil)
    }

    private func request(_ text: String, chunk: Int? = nil, file: StaticString = #filePath, line: UInt = #line) -> HTTPRequest? {
        let (consumed, outcome) = parse(text, chunk: chunk)
        guard case .request(let request)? = outcome else {
            XCTFail("expected a request, got \(String(describing: outcome))", file: file, line: line)
            return nil
        }
        XCTAssertEqual(consumed, text.utf8.count, "the whole request is consumed", file: file, line: line)
        return request
    }

    private func failure(_ text: String, maxBodyBytes: Int = 4096, chunk: Int? = nil) -> (status: Int, message: String)? {
        guard case .failure(let status, let message)? = parse(text, maxBodyBytes: maxBodyBytes, chunk: chunk).outcome else {
            return nil
        }
        return (status, message)
    }

    private func headers(_ request: HTTPRequest?) -> [[String]]? {
        request?.headers.map { [$0.name, $0.value] }
    }

    private func queryPairs(_ request: HTTPRequest?) -> [[String]]? {
        request?.query.pairs.map { [$0.name, $0.value] }
    }

    // MARK: Whole requests

    func testACompleteRequestInOneChunk() throws {
        let text = "GET /nodes/logs?peer_id=12D3KooW&limit=5 HTTP/1.1\r\nHost: example.org\r\nX-Custom:   spaced out\r\n\r\n"
        let request = try XCTUnwrap(self.request(text))
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.target, "/nodes/logs?peer_id=12D3KooW&limit=5")
        XCTAssertEqual(request.path, "/nodes/logs")
        XCTAssertEqual(queryPairs(request), [["peer_id", "12D3KooW"], ["limit", "5"]])
        XCTAssertEqual(request.query["limit"], "5")
        // Names lower-cased, values without the surrounding blanks, in order.
        XCTAssertEqual(headers(request), [["host", "example.org"], ["x-custom", "spaced out"]])
        XCTAssertEqual(request.header("x-custom"), "spaced out")
        XCTAssertNil(request.header("X-Custom"), "lookups are by lower-case name")
        XCTAssertEqual(request.body, [])
        XCTAssertTrue(request.keepAlive)
        XCTAssertFalse(request.isUpgrade)
        XCTAssertEqual(request.pathParameters, [:])
    }

    func testTheSameRequestFedByteByByteYieldsTheSameRequestOnTheLastByte() throws {
        let text = "POST /host_systems HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
            + "Content-Length: 13\r\nX-Long-Header-Name: a value with words\r\n\r\n{\"cpu\":\"x86\"}"
        let bytes = Array(text.utf8)
        let parser = HTTPRequestParser(maxBodyBytes: 4096)
        for index in bytes.indices.dropLast() {
            let (consumed, outcome) = bytes[index...index].withUnsafeBytes { parser.feed($0) }
            XCTAssertEqual(consumed, 1, "byte \(index)")
            XCTAssertNil(outcome, "byte \(index)")
        }
        let (consumed, outcome) = bytes[(bytes.count - 1)...].withUnsafeBytes { parser.feed($0) }
        XCTAssertEqual(consumed, 1)
        guard case .request(let request)? = outcome else { return XCTFail("no request: \(String(describing: outcome))") }
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/host_systems")
        XCTAssertEqual(headers(request), [["host", "h"], ["content-type", "application/json"], ["content-length", "13"],
                                          ["x-long-header-name", "a value with words"]])
        XCTAssertEqual(String(decoding: request.body, as: UTF8.self), "{\"cpu\":\"x86\"}")
    }

    func testABodySplitAcrossReadsIsAssembled() throws {
        let text = "POST /benchmarks HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
        for chunk in [1, 3, 7, 50] {
            let request = try XCTUnwrap(self.request(text, chunk: chunk), "chunk \(chunk)")
            XCTAssertEqual(String(decoding: request.body, as: UTF8.self), "0123456789", "chunk \(chunk)")
        }
    }

    func testAnEmptyFeedTakesNothing() {
        let parser = HTTPRequestParser(maxBodyBytes: 4096)
        let (consumed, outcome) = parser.feed(UnsafeRawBufferPointer(start: nil, count: 0))
        XCTAssertEqual(consumed, 0)
        XCTAssertNil(outcome)
    }

    func testAPartialHeadIsKeptUntilTheRestArrivesAndInHeadTracksIt() throws {
        let parser = HTTPRequestParser(maxBodyBytes: 4096)
        XCTAssertFalse(parser.inHead)
        var (consumed, outcome) = parse("GET /st", parser: parser)
        XCTAssertEqual(consumed, 7)
        XCTAssertNil(outcome)
        XCTAssertTrue(parser.inHead, "a head has started")
        (consumed, outcome) = parse("ats HTTP/1.1\r\nHost: h\r\n", parser: parser)
        XCTAssertNil(outcome)
        XCTAssertTrue(parser.inHead)
        (consumed, outcome) = parse("\r\n", parser: parser)
        guard case .request(let request)? = outcome else { return XCTFail("no request") }
        XCTAssertEqual(request.path, "/stats")
        XCTAssertFalse(parser.inHead, "the head is complete")
    }

    // MARK: Pipelining

    func testPipelinedRequestsAreYieldedOneAtATimeInOrder() throws {
        let first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        let second = "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
        let third = "GET /c?q=1 HTTP/1.1\r\nConnection: close\r\n\r\n"
        let bytes = Array((first + second + third).utf8)
        let parser = HTTPRequestParser(maxBodyBytes: 4096)
        var offset = 0
        var seen: [String] = []
        var consumedEach: [Int] = []
        while offset < bytes.count {
            let (consumed, outcome) = bytes[offset...].withUnsafeBytes { parser.feed($0) }
            offset += consumed
            consumedEach.append(consumed)
            guard case .request(let request)? = outcome else { return XCTFail("expected a request at \(offset)") }
            seen.append("\(request.method) \(request.path) \(String(decoding: request.body, as: UTF8.self)) \(request.keepAlive)")
        }
        // The parser stops after each request: the caller learns exactly
        // where the next one starts.
        XCTAssertEqual(consumedEach, [first.utf8.count, second.utf8.count, third.utf8.count])
        XCTAssertEqual(seen, ["GET /a  true", "POST /b xyz true", "GET /c  false"])
    }

    func testTheNextRequestAfterABodyStartsClean() throws {
        let parser = HTTPRequestParser(maxBodyBytes: 4096)
        guard case .request(let one)? = parse("POST /x HTTP/1.1\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nab", parser: parser).outcome,
              case .request(let two)? = parse("GET /y HTTP/1.1\r\n\r\n", parser: parser).outcome
        else { return XCTFail("two requests expected") }
        XCTAssertEqual(headers(one), [["content-length", "2"], ["x-a", "1"]])
        XCTAssertEqual(two.method, "GET")
        XCTAssertEqual(two.path, "/y")
        XCTAssertEqual(headers(two), [], "no header of the previous request")
        XCTAssertEqual(two.body, [], "no body of the previous request")
    }

    // MARK: Keep-alive and upgrades

    func testKeepAliveFollowsTheVersionAndConnectionHeader() throws {
        XCTAssertEqual(request("GET / HTTP/1.1\r\n\r\n")?.keepAlive, true)
        XCTAssertEqual(request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")?.keepAlive, false)
        XCTAssertEqual(request("GET / HTTP/1.0\r\n\r\n")?.keepAlive, false)
        XCTAssertEqual(request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?.keepAlive, true)
    }

    func testAnUpgradeRequestStopsAtTheEndOfItsHeadLeavingTheFramesThatFollow() throws {
        let head = RawClient.upgradeRequest(path: "/audit")
        let frame = RawClient.frame(opcode: 1, Array("{\"msg\":1}".utf8))
        let bytes = Array(head.utf8) + frame
        let parser = HTTPRequestParser(maxBodyBytes: 4096)
        let (consumed, outcome) = bytes.withUnsafeBytes { parser.feed($0) }
        XCTAssertEqual(consumed, head.utf8.count, "the frame bytes belong to the WebSocket, not to HTTP")
        guard case .request(let request)? = outcome else { return XCTFail("no request: \(String(describing: outcome))") }
        XCTAssertTrue(request.isUpgrade)
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.path, "/audit")
        XCTAssertEqual(request.header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==")
        XCTAssertTrue(request.headerListContains("upgrade", "websocket"))
        XCTAssertTrue(request.headerListContains("connection", "upgrade"))
    }

    func testUpgradeNeedsBothTheUpgradeAndTheConnectionHeader() throws {
        XCTAssertEqual(request("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")?.isUpgrade, false)
        XCTAssertEqual(request("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n")?.isUpgrade, true)
        let listed = try XCTUnwrap(request("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n"))
        XCTAssertTrue(listed.headerListContains("connection", "upgrade"), "tokens match case-insensitively")
        XCTAssertTrue(listed.headerListContains("connection", "keep-alive"))
        XCTAssertFalse(listed.headerListContains("connection", "close"))
    }

    // MARK: Target decoding

    func testThePathIsPercentDecodedAndThePlusSignIsOnlyASpaceInTheQuery() throws {
        let request = try XCTUnwrap(self.request("GET /nodes/a%20b+c%2Fd?name=x+y%26z&flag&=v HTTP/1.1\r\n\r\n"))
        XCTAssertEqual(request.target, "/nodes/a%20b+c%2Fd?name=x+y%26z&flag&=v", "the raw target is kept")
        XCTAssertEqual(request.path, "/nodes/a b+c/d")
        XCTAssertEqual(queryPairs(request), [["name", "x y&z"], ["flag", ""], ["", "v"]])
    }

    func testAPathDecodesToUTF8AndAnEmptyQueryHasNoParameters() throws {
        let request = try XCTUnwrap(self.request("GET /%E2%9C%93? HTTP/1.1\r\n\r\n"))
        XCTAssertEqual(request.path, "/\u{2713}")
        XCTAssertEqual(queryPairs(request), [])
    }

    func testABadEscapeInThePathIs400() throws {
        for target in ["/a%zz", "/a%4", "/a%FF"] {
            let refusal = try XCTUnwrap(failure("GET \(target) HTTP/1.1\r\n\r\n"), target)
            XCTAssertEqual(refusal.status, 400, target)
            XCTAssertEqual(refusal.message, "malformed request target", target)
        }
    }

    func testATargetThatIsNotAnAbsolutePathIs400() throws {
        // Asterisk form and authority form: no route can match either.
        for line in ["OPTIONS * HTTP/1.1", "CONNECT example.org:443 HTTP/1.1", "GET ftp://example.org/stats HTTP/1.1"] {
            let refusal = try XCTUnwrap(failure("\(line)\r\nHost: h\r\n\r\n"), line)
            XCTAssertEqual(refusal.status, 400, line)
            XCTAssertEqual(refusal.message, "malformed request target", line)
        }
    }

    func testAnAbsoluteFormTargetIsTakenAsItsPathAndQuery() throws {
        let cases: [(String, String, [[String]])] = [
            ("http://example.org:8080/nodes/logs?limit=5", "/nodes/logs", [["limit", "5"]]),
            ("HTTPS://example.org/stats/db", "/stats/db", []),
            ("http://example.org", "/", []),
            ("http://example.org?limit=2", "/", [["limit", "2"]]),
        ]
        for (target, path, query) in cases {
            let request = try XCTUnwrap(self.request("GET \(target) HTTP/1.1\r\nHost: example.org\r\n\r\n"), target)
            XCTAssertEqual(request.path, path, target)
            XCTAssertEqual(queryPairs(request), query, target)
            XCTAssertEqual(request.target, target, "the raw target is kept as sent")
        }
    }

    func testABadEscapeInTheQueryIs400() throws {
        let refusal = try XCTUnwrap(failure("GET /nodes?peer_id=%G1 HTTP/1.1\r\n\r\n"))
        XCTAssertEqual(refusal.status, 400)
        XCTAssertEqual(refusal.message, "malformed query string: bad percent-encoding")
    }

    // MARK: Refusals

    func testAMalformedRequestIs400WithHTTPParsersDescription() throws {
        for text in ["GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n", "GET / XTTP/1.1\r\n\r\n",
                     "POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n"] {
            let refusal = try XCTUnwrap(failure(text), text)
            XCTAssertEqual(refusal.status, 400, text)
            XCTAssertTrue(refusal.message.hasPrefix("malformed request: "), refusal.message)
            XCTAssertGreaterThan(refusal.message.count, "malformed request: ".count, "http-parser says what is wrong")
        }
    }

    func testAFailureIsFinal() throws {
        let parser = HTTPRequestParser(maxBodyBytes: 4096)
        guard case .failure(400, _)? = parse("GARBAGE\r\n\r\n", parser: parser).outcome else { return XCTFail("no 400") }
        // A valid request after it is not served: the connection is to close.
        guard case .failure(400, _)? = parse("GET / HTTP/1.1\r\n\r\n", parser: parser).outcome else {
            return XCTFail("the parser recovered after an error")
        }
    }

    func testAChunkedBodyIs411() throws {
        let refusal = try XCTUnwrap(failure("POST /benchmarks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
        XCTAssertEqual(refusal.status, 411)
        XCTAssertEqual(refusal.message, "chunked request bodies are not accepted; send Content-Length")
    }

    func testABodyOverTheLimitIs413FromTheHeaderAloneAndOneAtTheLimitIsServed() throws {
        // Refused on the Content-Length header: no body byte is needed.
        let refusal = try XCTUnwrap(failure("POST /benchmarks HTTP/1.1\r\nContent-Length: 4097\r\n\r\n"))
        XCTAssertEqual(refusal.status, 413)
        XCTAssertEqual(refusal.message, "request body of 4097 bytes exceeds the limit of 4096 bytes")

        let body = String(repeating: "b", count: 4096)
        let served = try XCTUnwrap(request("POST /benchmarks HTTP/1.1\r\nContent-Length: 4096\r\n\r\n" + body))
        XCTAssertEqual(served.body.count, 4096)

        XCTAssertEqual(failure("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", maxBodyBytes: 10)?.status, 413)
        XCTAssertEqual(parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", maxBodyBytes: 10).consumed, 49)
    }

    /// A request whose counted head (target, header names and values, 4
    /// bytes of framing per header) is exactly `size` bytes.
    private func head(countedBytes size: Int) -> String {
        // "/" + padding counts 1 + padding; "X-Pad" + value counts 5 + 4 + value.
        let value = String(repeating: "v", count: 1024)
        let padding = size - 1 - (5 + 4 + value.count)
        return "GET /" + String(repeating: "p", count: padding) + " HTTP/1.1\r\nX-Pad: " + value + "\r\n\r\n"
    }

    func testAHeadOverSixteenKiBIs431WhateverTheReadBoundaries() throws {
        XCTAssertEqual(HTTPRequestParser.maxHeadBytes, 16 * 1024)
        let limit = Int(HTTPRequestParser.maxHeadBytes)
        for chunk in [nil, 1, 100, 4096] {
            let label = "chunk \(chunk.map(String.init) ?? "all")"
            let atLimit = head(countedBytes: limit)
            let (consumed, outcome) = parse(atLimit, chunk: chunk)
            guard case .request(let request)? = outcome else { return XCTFail("\(label): at the limit: \(String(describing: outcome))") }
            XCTAssertEqual(consumed, atLimit.utf8.count, label)
            XCTAssertEqual(request.header("x-pad")?.count, 1024, label)

            let refusal = try XCTUnwrap(failure(head(countedBytes: limit + 1), chunk: chunk), label)
            XCTAssertEqual(refusal.status, 431, label)
            XCTAssertEqual(refusal.message, "request head exceeds 16384 bytes", label)
        }
    }

    func testManySmallHeadersCountTheirFramingTowardsTheHeadLimit() throws {
        // 1 (target) + n * (2 + 4 + 2): the framing makes the difference.
        let limit = Int(HTTPRequestParser.maxHeadBytes)
        let fits = (limit - 1) / 8
        func many(_ count: Int) -> String {
            let twoChars = (0..<count).map { String(($0 % 200) + 100).suffix(2) }
            return "GET / HTTP/1.1\r\n" + twoChars.map { "h\($0.first!): \($0)\r\n" }.joined() + "\r\n"
        }
        XCTAssertEqual(request(many(fits))?.headers.count, fits)
        XCTAssertEqual(failure(many(fits + 1))?.status, 431)
    }
}
