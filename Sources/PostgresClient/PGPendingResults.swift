/// The statements a connection has sent and not yet finished, oldest first,
/// and how libpq's stream of results maps onto them. No I/O here:
/// PGConnection turns each PQgetResult into an `Event` and calls the
/// completion `receive` hands back.
struct PGPendingResults {
    typealias Completion = (Result<PGRows, PGError>) -> Void

    enum Event {
        /// PGRES_TUPLES_OK, PGRES_COMMAND_OK or PGRES_EMPTY_QUERY.
        case rows(PGRows)
        /// An error that ends the statement, not the session.
        case error(PGError)
        /// PQgetResult returned NULL: the statement's results are all in.
        case end
        /// PGRES_PIPELINE_SYNC: the statement's implicit transaction is over.
        case sync
    }

    typealias Finished = (completion: Completion, outcome: Result<PGRows, PGError>)

    private struct Entry {
        var completion: Completion
        var outcome: Result<PGRows, PGError>?
    }

    /// In pipeline mode a statement is finished by its sync point, not by
    /// the end of its results: only then is it committed, and an error in
    /// between (a commit that fails) is still the statement's.
    var pipelined = false
    private var entries: [Entry] = []
    private var head = 0

    var count: Int { entries.count - head }

    mutating func append(_ completion: @escaping Completion) {
        entries.append(Entry(completion: completion))
    }

    /// Applies one event to the oldest statement; returns its completion
    /// and outcome when the event finishes it.
    mutating func receive(_ event: Event) -> Finished? {
        guard head < entries.count else { return nil }
        switch event {
        case .rows(let rows):
            // A simple query yields one result per statement: the last one
            // counts, unless an earlier one failed.
            if case .failure = entries[head].outcome { return nil }
            entries[head].outcome = .success(rows)
            return nil
        case .error(let error):
            // The first error is the cause; any later one follows from it.
            if case .failure = entries[head].outcome { return nil }
            entries[head].outcome = .failure(error)
            return nil
        case .end:
            return pipelined ? nil : finishOldest()
        case .sync:
            return pipelined ? finishOldest() : nil
        }
    }

    /// Empties the queue (the connection is gone); oldest first.
    mutating func removeAll() -> [Completion] {
        let completions = entries[head...].map(\.completion)
        entries.removeAll()
        head = 0
        return completions
    }

    private mutating func finishOldest() -> Finished {
        let entry = entries[head]
        // The slot stays until the array is compacted, its completion not:
        // what that captured (a batch's arrays, say) goes now.
        entries[head] = Entry(completion: { _ in })
        head += 1
        // A pipeline that never drains would grow the array for ever:
        // drop the finished prefix once it is the larger part.
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
        let noResult = PGError(kind: .query, sqlState: nil, message: "the server sent no result for the statement")
        return (entry.completion, entry.outcome ?? .failure(noResult))
    }
}
