import WebServer
// API: the JSON query endpoints (nodes, logs, reputation, database stats,
// host systems, benchmarks) and their OpenAPI document.
//
// Every handler validates its input first (a 400/413/415 names what is
// wrong), then, once APIQueryGate gives it a slot (or refuses it 503), runs
// one statement on the query pool's StatementQueue, so API work never takes
// a write connection. PostgreSQL builds each JSON body
// itself (json_agg), so a response is one text value copied to the socket.
// Every value from a request is a bound parameter; no SQL is built from
// input.

/// A request the API refuses before touching the database.
struct APIError: Error {
    let status: Int
    let message: String
    var headers: [(name: String, value: String)] = []

    init(_ status: Int, _ message: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    static func badRequest(_ message: String) -> APIError { APIError(400, message) }

    var response: HTTPResponse { .error(status, message, headers: headers) }
}
