/// Answers a request: exactly one call of `respond`, now or later on the loop.
package typealias HTTPHandler = (_ request: HTTPRequest, _ respond: @escaping (HTTPResponse) -> Void) -> Void

/// Maps method and path to a handler. Patterns are literal segments and
/// `{name}` placeholders; "/path" and "/path/" are the same route.
package struct Router {
    package enum Target {
        case http(HTTPHandler)
        /// A WebSocket route: the handler decides on the upgrade.
        case webSocket(WebSocketUpgradeHandler)
    }

    package enum Match {
        case found(Target, HTTPRequest)
        case notFound
        case methodNotAllowed(allowed: [String])
    }

    private struct Route {
        let method: String
        let segments: [Substring]
        let prefixMatch: Bool
        let target: Target

        var isWebSocket: Bool {
            if case .webSocket = target { return true }
            return false
        }
    }

    private var routes: [Route] = []

    package init() {}

    package mutating func add(_ method: String, _ pattern: String, _ handler: @escaping HTTPHandler) {
        routes.append(Route(method: method, segments: Router.segments(pattern), prefixMatch: false, target: .http(handler)))
    }

    package mutating func addWebSocket(_ pattern: String, _ handler: @escaping WebSocketUpgradeHandler) {
        routes.append(Route(method: "GET", segments: Router.segments(pattern), prefixMatch: false, target: .webSocket(handler)))
    }

    /// Every path below `prefix` (static files); the rest of the path is the
    /// path parameter "rest".
    package mutating func addPrefix(_ method: String, _ prefix: String, _ handler: @escaping HTTPHandler) {
        routes.append(Route(method: method, segments: Router.segments(prefix), prefixMatch: true, target: .http(handler)))
    }

    package func match(_ request: HTTPRequest) -> Match {
        let path = Router.segments(request.path)
        var allowed: [String] = []
        for route in routes {
            guard let parameters = Router.bind(route, to: path) else { continue }
            if route.method == request.method || (route.method == "GET" && request.method == "HEAD" && !route.isWebSocket) {
                var bound = request
                bound.pathParameters = parameters
                return .found(route.target, bound)
            }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    /// The pattern of the route a path belongs to, whatever the method, and
    /// whether it is a WebSocket route; nil when no route has the path.
    /// Metrics label requests by it: bounded, unlike raw paths.
    package func routePattern(forPath path: String) -> (pattern: String, isWebSocket: Bool)? {
        let segments = Router.segments(path)
        guard let route = routes.first(where: { Router.bind($0, to: segments) != nil }) else { return nil }
        let pattern = "/" + route.segments.joined(separator: "/")
        return (route.prefixMatch ? pattern + (route.segments.isEmpty ? "*" : "/*") : pattern, route.isWebSocket)
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    private static func bind(_ route: Route, to path: [Substring]) -> [String: String]? {
        if route.prefixMatch {
            guard path.count >= route.segments.count, Array(path.prefix(route.segments.count)) == route.segments
            else { return nil }
            return ["rest": path.dropFirst(route.segments.count).joined(separator: "/")]
        }
        guard path.count == route.segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (pattern, actual) in zip(route.segments, path) {
            if pattern.first == "{", pattern.last == "}" {
                parameters[String(pattern.dropFirst().dropLast())] = String(actual)
            } else if pattern != actual {
                return nil
            }
        }
        return parameters
    }
}
