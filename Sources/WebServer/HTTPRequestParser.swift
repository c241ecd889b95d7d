import Foundation

import CHTTPParser

/// Incremental HTTP/1.1 request parser over Debian's http-parser.
///
/// Yields one request at a time: the parser pauses after each message, so
/// pipelined requests are answered strictly in order by the connection.
final class HTTPRequestParser {
    enum Outcome {
        case request(HTTPRequest)
        /// The request cannot be served; answer `status` and close.
        case failure(status: Int, message: String)
    }

    /// Largest request head (request line and headers): 16 KiB → 431.
    static let maxHeadBytes: UInt32 = 16 * 1024

    // Heap-allocated: the callbacks read the parser while
    // http_parser_execute runs, which Swift's exclusivity rules forbid for
    // a stored property passed inout.
    private let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)
    private let settings = UnsafeMutablePointer<http_parser_settings>.allocate(capacity: 1)
    private let maxBodyBytes: Int
    private var current = HTTPRequest()
    private var headerName = ""
    private var headerValue = ""
    private var readingValue = false
    private var completed: HTTPRequest?

    deinit {
        parser.deallocate()
        settings.deallocate()
    }
    private var rejection: (status: Int, message: String)?
    /// True once a head has started and not yet completed (slow-loris watch).
    private(set) var inHead = false
    private var headBytes = 0

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        // http-parser's own head limit is checked after a piece is handed
        // over and depends on how the bytes were split into reads; the
        // limit that counts is `countHead`. Theirs is only a backstop.
        http_parser_set_max_header_size(HTTPRequestParser.maxHeadBytes * 2)
        parser.initialize(to: http_parser())
        settings.initialize(to: http_parser_settings())
        http_parser_init(parser, HTTP_REQUEST)
        settings.pointee.on_message_begin = { parser in
            HTTPRequestParser.from(parser).beginMessage()
            return 0
        }
        settings.pointee.on_url = { parser, data, length in
            let this = HTTPRequestParser.from(parser)
            guard this.countHead(length) else { return 1 }
            this.current.target += HTTPRequestParser.string(data, length)
            return 0
        }
        settings.pointee.on_header_field = { parser, data, length in
            let this = HTTPRequestParser.from(parser)
            guard this.countHead(length + (this.readingValue || this.headerName.isEmpty ? 4 : 0)) else { return 1 }
            this.headerField(HTTPRequestParser.string(data, length))
            return 0
        }
        settings.pointee.on_header_value = { parser, data, length in
            let this = HTTPRequestParser.from(parser)
            guard this.countHead(length) else { return 1 }
            this.headerValue += HTTPRequestParser.string(data, length)
            this.readingValue = true
            return 0
        }
        settings.pointee.on_headers_complete = { parser in
            HTTPRequestParser.from(parser).headersComplete()
        }
        settings.pointee.on_body = { parser, data, length in
            if let data, length > 0 {
                HTTPRequestParser.from(parser).current.body.append(
                    contentsOf: UnsafeRawBufferPointer(start: data, count: length))
            }
            return 0
        }
        settings.pointee.on_message_complete = { parser in
            HTTPRequestParser.from(parser).messageComplete()
            // Stop after each request so pipelined requests are served in order.
            http_parser_pause(parser, 1)
            return 0
        }
    }

    /// Parses at most one request from `bytes`. Returns how many bytes were
    /// used and the request or failure, or nil when more bytes are needed.
    func feed(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, outcome: Outcome?) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return (0, nil) }
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let consumed = http_parser_execute(parser, settings, base.assumingMemoryBound(to: CChar.self), bytes.count)
        parser.pointee.data = nil
        let errno = http_errno(rawValue: parser.pointee.http_errno)
        if errno == HPE_PAUSED {
            http_parser_pause(parser, 0)
        } else if errno != HPE_OK {
            return (consumed, .failure(status: rejection?.status ?? status(for: errno),
                                       message: rejection?.message ?? message(for: errno)))
        }
        if let request = completed {
            completed = nil
            return (consumed, .request(request))
        }
        return (consumed, nil)
    }

    private static func from(_ parser: UnsafeMutablePointer<http_parser>?) -> HTTPRequestParser {
        // Set by feed() for the duration of http_parser_execute.
        Unmanaged<HTTPRequestParser>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
    }

    private static func string(_ data: UnsafePointer<CChar>?, _ length: Int) -> String {
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// Counts target, header names and values (plus 4 bytes of framing per
    /// header) against the head limit whatever the read boundaries; past
    /// it the request is refused with 431 before the piece is kept.
    private func countHead(_ bytes: Int) -> Bool {
        headBytes += bytes
        guard headBytes <= Int(HTTPRequestParser.maxHeadBytes) else {
            rejection = (431, "request head exceeds \(HTTPRequestParser.maxHeadBytes) bytes")
            return false
        }
        return true
    }

    private func beginMessage() {
        headBytes = 0
        current = HTTPRequest()
        headerName = ""
        headerValue = ""
        readingValue = false
        inHead = true
    }

    private func headerField(_ piece: String) {
        if readingValue { flushHeader() }
        headerName += piece
    }

    private func flushHeader() {
        if !headerName.isEmpty {
            current.headers.append((headerName.lowercased(), headerValue.trimmingCharacters(in: .whitespaces)))
        }
        headerName = ""
        headerValue = ""
        readingValue = false
    }

    private func headersComplete() -> Int32 {
        flushHeader()
        inHead = false
        current.method = String(cString: http_method_str(http_method(rawValue: parser.pointee.method)))
        current.keepAlive = http_should_keep_alive(parser) != 0
        current.isUpgrade = parser.pointee.upgrade != 0
        if parser.pointee.uses_transfer_encoding != 0 {
            rejection = (411, "chunked request bodies are not accepted; send Content-Length")
            return -1
        }
        // content_length is ULLONG_MAX when the header is absent.
        if parser.pointee.content_length != UInt64.max, parser.pointee.content_length > UInt64(maxBodyBytes) {
            rejection = (413, "request body of \(parser.pointee.content_length) bytes exceeds the limit of \(maxBodyBytes) bytes")
            return -1
        }
        let split = QueryParameters.splitTarget(HTTPRequestParser.originForm(of: current.target))
        guard let path = percentDecode(split.path), path.hasPrefix("/") else {
            rejection = (400, "malformed request target")
            return -1
        }
        current.path = path
        if let rawQuery = split.query {
            guard let query = QueryParameters(parsing: rawQuery) else {
                rejection = (400, "malformed query string: bad percent-encoding")
                return -1
            }
            current.query = query
        }
        return 0
    }

    /// The path and query of an absolute-form target
    /// ("http://host:8080/nodes?x=1", which RFC 9112 3.2.2 says a server
    /// must accept, and proxies send); any other target unchanged. The
    /// authority is not checked: this server answers for every host name.
    static func originForm(of target: String) -> Substring {
        let bytes = target.utf8
        for scheme in ["http://", "https://"] where bytes.count >= scheme.utf8.count
            && zip(bytes, scheme.utf8).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) {
            let afterScheme = bytes.index(bytes.startIndex, offsetBy: scheme.utf8.count)
            let rest = target[afterScheme...]
            guard let start = rest.utf8.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) else {
                return "/"
            }
            // "http://host?x=1": the path is empty, which means "/".
            return rest.utf8[start] == UInt8(ascii: "?") ? Substring("/" + rest[start...]) : rest[start...]
        }
        return target[...]
    }

    private func messageComplete() {
        completed = current
        current = HTTPRequest()
    }

    private func status(for errno: http_errno) -> Int {
        errno == HPE_HEADER_OVERFLOW ? 431 : 400
    }

    private func message(for errno: http_errno) -> String {
        if errno == HPE_HEADER_OVERFLOW {
            return "request head exceeds \(HTTPRequestParser.maxHeadBytes) bytes"
        }
        return "malformed request: " + String(cString: http_errno_description(errno))
    }
}
