/// The HTTP side of one event loop: requests by route and status,
/// WebSocket closes by code. Bumped once per request or connection.
final class HTTPCounters: CounterSet {
    /// The route label of requests that matched no route (404) or could
    /// not be parsed.
    static let unmatchedRoute = "unmatched"

    /// Labelled by route pattern ("/dashboard/*"), never by raw path, so the
    /// label set stays bounded whatever clients ask for.
    var requests = LabelledEventCounter(.init(.counter, "tetcore_http_requests_total",
                                              help: "HTTP requests answered, by route pattern and status (unmatched: no route or unparsable).",
                                              labels: ["route", "status"]))
    /// The original's `requests`: answered requests except to WebSocket
    /// routes and /metrics.
    var requestsExceptWebSocketsAndMetrics = EventCounter(.init(.untyped, "requests",
                                                               help: "HTTP requests answered, except to WebSocket routes and /metrics."))
    var closes = LabelledEventCounter(.init(.counter, "tetcore_websocket_closes_total",
                                            help: "WebSocket connections ended, by close code (1006: without a close frame).",
                                            labels: ["code"]))

    func recordResponse(route: (pattern: String, isWebSocket: Bool)?, status: Int) {
        requests.increment([route?.pattern ?? HTTPCounters.unmatchedRoute, String(status)])
        if route?.isWebSocket != true && route?.pattern != "/metrics" { requestsExceptWebSocketsAndMetrics += 1 }
    }

    func recordClose(code: UInt16) {
        closes.increment([String(code)])
    }
}
