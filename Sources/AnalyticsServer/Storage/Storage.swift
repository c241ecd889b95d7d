// Storage: this application's work on its own tables, over PostgresClient.
//
// BatchWriter: the batch insert with its exactly-once marker, retries and
// the split that isolates a row PostgreSQL refuses. Migrator: Migrations/*.sql
// in order under an advisory lock. ExpiryPurger: LOG_EXPIRY_H (partitions
// dropped whole, connections deleted). PartitionMaker: daily partitions made
// ahead. NetworkHistoryKeeper: the network's history (block imports compacted,
// NETWORK_HISTORY_EXPIRY_H, monthly series partitions). ReadRoute: where reads
// go (DATABASE_READ_URL's standby or the primary); ReplicaLagMonitor: that
// standby's lag, by WAL position. Feed and API queries live with their routes.
