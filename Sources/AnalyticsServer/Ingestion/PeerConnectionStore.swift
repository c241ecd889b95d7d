import Logging
import Reactor
import PostgresClient

/// What a node says about itself (system.connected) or, for older nodes,
/// just its peer id found in other messages.
struct NodeInfo: Equatable {
    var peerID: String
    var name: String?
    var chain: String?
    var version: String?
    var authority: Bool?
    var startupTime: Int64?
    var implementation: String?
}

/// Creates and completes peer_connections rows through the write queue,
/// ahead of message batches (a socket may be waiting for its row).
final class PeerConnectionStore {
    private let queue: StatementQueue
    private let loop: EventLoop
    private let logger: Logger

    init(queue: StatementQueue, loop: EventLoop, logger: Logger) {
        self.queue = queue
        self.loop = loop
        self.logger = logger
    }

    /// Inserts the row of a new connection. Fails at once when no database
    /// connection is ready: the upgrade is then refused with 503 and the
    /// node retries, instead of a socket hanging on a dead database.
    func create(ipAddress: String, audit: Bool, _ completion: @escaping (Result<Int32, PGError>) -> Void) {
        guard queue.pool.readyCount > 0 else {
            completion(.failure(PGError(kind: .connection, sqlState: nil, message: "no database connection is ready")))
            return
        }
        insert(ipAddress: ipAddress, audit: audit, completion)
    }

    /// Inserts the row of another node id on an open connection, retrying
    /// until it succeeds: its socket is paused meanwhile, and a paused
    /// socket is not timed out, so no message is lost.
    func createRetrying(ipAddress: String, audit: Bool, delayMs: UInt64 = 250, _ completion: @escaping (Int32) -> Void) {
        insert(ipAddress: ipAddress, audit: audit) { [weak self] result in
            switch result {
            case .success(let id):
                completion(id)
            case .failure(let error):
                guard let self else { return }
                self.logger.warning("cannot create a node's connection row; retrying", metadata: ["error": "\(error)"])
                LoopTimer.once(on: self.loop, after: delayMs) { [weak self] in
                    self?.createRetrying(ipAddress: ipAddress, audit: audit, delayMs: min(delayMs * 2, 10_000), completion)
                }
            }
        }
    }

    private func insert(ipAddress: String, audit: Bool, _ completion: @escaping (Result<Int32, PGError>) -> Void) {
        let sql = "INSERT INTO peer_connections (ip_addr, audit) VALUES ($1, $2) RETURNING id"
        queue.submit(StatementQueue.Job(sql: sql, parameters: [.text(ipAddress), .bool(audit)]) { result in
            completion(result.flatMap { rows in
                guard let text = rows.string(0, 0), let id = Int32(text) else {
                    return .failure(PGError(kind: .query, sqlState: nil, message: "INSERT … RETURNING id returned no id"))
                }
                return .success(id)
            })
        }, priority: .urgent)
    }

    /// Records a node's identity on its row. Retried while the database is
    /// unreachable; a value PostgreSQL refuses is logged and dropped (the
    /// node's messages are stored regardless).
    func record(_ info: NodeInfo, forRow id: Int32) {
        let sql = """
            UPDATE peer_connections SET peer_id = $2, name = COALESCE($3, name), chain = COALESCE($4, chain), \
            version = COALESCE($5, version), authority = COALESCE($6::boolean, authority), \
            startup_time = COALESCE($7::bigint, startup_time), implementation = COALESCE($8, implementation) \
            WHERE id = $1
            """
        let parameters: [PGParameter] = [
            .int32(id), .text(info.peerID), .text(info.name), .text(info.chain), .text(info.version),
            .text(info.authority.map { $0 ? "true" : "false" }), .text(info.startupTime.map { String($0) }),
            .text(info.implementation),
        ]
        queue.submit(StatementQueue.Job(sql: sql, parameters: parameters) { [weak self] result in
            guard case .failure(let error) = result, let self else { return }
            if error.kind == .connection {
                self.record(info, forRow: id)
            } else {
                self.logger.warning("cannot record node info", metadata: ["peer_connection_id": "\(id)", "error": "\(error)"])
            }
        }, priority: .urgent)
    }
}
