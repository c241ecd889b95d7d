/// The HTTP side's counters: requests by route and status, WebSocket
/// closes by code. Bumped once per request or connection, on the loop.
package final class HTTPMetrics {
    struct RequestKey: Hashable {
        /// A route pattern ("/dashboard/*"), never a raw path, so the label
        /// set stays bounded whatever clients ask for.
        let route: String
        let status: Int
    }

    /// The route label of requests that matched no route (404) or could
    /// not be parsed.
    static let unmatchedRoute = "unmatched"

    private(set) var requests: [RequestKey: Int] = [:]
    /// The original's `requests`: answered requests except to WebSocket
    /// routes and /metrics.
    private(set) var requestsExceptWebSocketsAndMetrics = 0
    private(set) var closes: [UInt16: Int] = [:]

    init() {}

    func recordResponse(route: (pattern: String, isWebSocket: Bool)?, status: Int) {
        requests[RequestKey(route: route?.pattern ?? HTTPMetrics.unmatchedRoute, status: status), default: 0] += 1
        if route?.isWebSocket != true && route?.pattern != "/metrics" { requestsExceptWebSocketsAndMetrics += 1 }
    }

    func recordClose(code: UInt16) {
        closes[code, default: 0] += 1
    }

    /// Adds another loop's counts (LoopCounters).
    func add(_ other: HTTPMetrics) {
        requests.merge(other.requests, uniquingKeysWith: +)
        requestsExceptWebSocketsAndMetrics += other.requestsExceptWebSocketsAndMetrics
        closes.merge(other.closes, uniquingKeysWith: +)
    }
}
