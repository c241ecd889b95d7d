import Foundation
import Reactor

/// An HTTP response, serialised in one piece by `HTTPConnection`.
package struct HTTPResponse {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    /// When set, the body sent instead of `body`, without a copy: for large
    /// bodies that many requests share.
    package var sharedBody: SharedBytes?

    package init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response from an already-serialised body.
    package static func json(_ status: Int = 200, body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: body)
    }

    /// A JSON response whose body is written without being copied.
    package static func json(_ status: Int = 200, shared body: SharedBytes) -> HTTPResponse {
        var response = HTTPResponse(status: status, headers: [("Content-Type", "application/json")])
        response.sharedBody = body
        return response
    }

    /// The length of the body sent.
    package var bodyCount: Int { sharedBody?.count ?? body.count }

    /// A JSON response from any JSONSerialization-compatible value.
    package static func json(_ status: Int = 200, object: Any) -> HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("null".utf8)
        return json(status, body: [UInt8](data))
    }

    /// `{"error": message}` with the given status: every error the server
    /// answers looks like this.
    package static func error(_ status: Int, _ message: String, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        var response = json(status, object: ["error": message])
        response.headers += headers
        return response
    }

    /// Status line and headers; Content-Length is always set.
    func head(keepAlive: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(HTTPResponse.reasonPhrase(status))\r\n"
        for header in headers {
            text += "\(header.name): \(header.value)\r\n"
        }
        if status != 101 {
            text += "Content-Length: \(bodyCount)\r\n"
            if !keepAlive { text += "Connection: close\r\n" }
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 422: return "Unprocessable Content"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        default: return "Status \(status)"
        }
    }
}
