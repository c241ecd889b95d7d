/// Sends statements through a pool as its pipelines have room, urgent ones
/// before bulk ones (on the write pool: a node's connection row, which a
/// socket waits for, before message batches). Owns the pool's callbacks; one
/// queue per pool.
package final class StatementQueue {
    package struct Job {
        let sql: String
        let parameters: [PGParameter]
        /// The name each connection prepares the SQL under (PGConnection.query).
        let preparedAs: String?
        let completion: (Result<PGRows, PGError>) -> Void

        package init(sql: String, parameters: [PGParameter], preparedAs: String? = nil,
                     completion: @escaping (Result<PGRows, PGError>) -> Void) {
            self.sql = sql
            self.parameters = parameters
            self.preparedAs = preparedAs
            self.completion = completion
        }
    }

    package enum Priority { case urgent, bulk }

    package let pool: PGPool
    private let maxInFlightPerConnection: Int
    private var urgent: [Job] = []
    private var bulk: [Job] = []
    private var urgentHead = 0
    private var bulkHead = 0

    package init(pool: PGPool, maxInFlightPerConnection: Int) {
        self.pool = pool
        self.maxInFlightPerConnection = maxInFlightPerConnection
        pool.onReady = { [weak self] in self?.pump() }
        pool.onCapacity = { [weak self] in self?.pump() }
    }

    var queuedCount: Int { urgent.count - urgentHead + bulk.count - bulkHead }

    package func submit(_ job: Job, priority: Priority) {
        switch priority {
        case .urgent: urgent.append(job)
        case .bulk: bulk.append(job)
        }
        pump()
    }

    /// Sends queued jobs, oldest first, while some connection has room.
    func pump() {
        while let job = next() {
            guard pool.trySend(job.sql, job.parameters, preparedAs: job.preparedAs, maxInFlight: maxInFlightPerConnection,
                               job.completion) else { return }
            advance()
        }
    }

    private func next() -> Job? {
        if urgentHead < urgent.count { return urgent[urgentHead] }
        if bulkHead < bulk.count { return bulk[bulkHead] }
        return nil
    }

    /// Removes the job `next()` returned; compacts the arrays now and then
    /// instead of shifting them on every send. The slot keeps an empty job
    /// until then: the sent one's parameters and completion (a batch's
    /// arrays) go at once.
    private func advance() {
        if urgentHead < urgent.count {
            urgent[urgentHead] = Job(sql: "", parameters: []) { _ in }
            urgentHead += 1
            if urgentHead == urgent.count { urgent.removeAll(keepingCapacity: true); urgentHead = 0 }
        } else {
            bulk[bulkHead] = Job(sql: "", parameters: []) { _ in }
            bulkHead += 1
            if bulkHead == bulk.count {
                bulk.removeAll(keepingCapacity: true)
                bulkHead = 0
            } else if bulkHead > 1024 {
                bulk.removeFirst(bulkHead)
                bulkHead = 0
            }
        }
    }
}
