import PostgresClient

/// Where one shard's reads (API queries, feed refreshes) go: the read
/// replica's pool (DATABASE_READ_URL) while the replica is usable and one
/// of its connections is open, the primary's query pool otherwise. Chosen
/// per statement, so reads move back and forth as the replica's lag does.
/// Writes never come here: they take the primary's queue directly.
final class ReadRoute {
    let primary: StatementQueue
    let replica: StatementQueue?
    private let replicaUsable: () -> Bool

    /// Without a replica every read goes to `primary`.
    init(primary: StatementQueue, replica: StatementQueue? = nil, replicaUsable: @escaping () -> Bool = { false }) {
        self.primary = primary
        self.replica = replica
        self.replicaUsable = replicaUsable
    }

    var queue: StatementQueue {
        if let replica, replica.pool.readyCount > 0, replicaUsable() { return replica }
        return primary
    }
}
