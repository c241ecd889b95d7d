import Logging
import PostgresClient
import WebServer

/// Runs the API's statements: reads where `reads` sends them (the read
/// replica while it is usable), writes on the primary. Each statement returns one
/// row with one column, the response body as JSON text, built by
/// PostgreSQL; a statement that returns no row means "not found" (or, for
/// an INSERT … SELECT, that what the body referred to does not exist).
struct APIDatabase {
    let reads: ReadRoute
    let logger: Logger

    /// What a statement does, so where it may run.
    enum Access { case read, write }

    /// Answers 200 with the body the statement returned, `whenNoRow` when it
    /// returned no row, 500 `{"error":"database error"}` when it failed
    /// (the detail goes to the log only).
    func respondWithJSON(_ sql: String, _ parameters: [PGParameter], route: String, access: Access = .read,
                         whenNoRow: HTTPResponse = .error(404, "not found"),
                         _ respond: @escaping (HTTPResponse) -> Void) {
        let logger = self.logger
        let queue = access == .write ? reads.primary : reads.queue
        queue.submit(StatementQueue.Job(sql: sql, parameters: parameters) { result in
            switch result {
            case .success(let rows):
                guard let body = rows.string(0, 0) else { return respond(whenNoRow) }
                respond(.json(body: Array(body.utf8)))
            case .failure(let error):
                logger.error("API query failed", metadata: ["route": "\(route)", "error": "\(error)"])
                respond(.error(500, "database error"))
            }
        }, priority: .urgent)
    }
}

extension Router {
    /// A route whose handler may refuse the request with an `APIError`
    /// before any statement is sent.
    mutating func addAPI(_ method: String, _ pattern: String,
                         _ handler: @escaping (HTTPRequest, @escaping (HTTPResponse) -> Void) throws(APIError) -> Void) {
        add(method, pattern) { request, respond in
            do throws(APIError) {
                try handler(request, respond)
            } catch {
                respond(error.response)
            }
        }
    }
}
