import PostgresClient

/// The PostgreSQL pools' state, read at scrape time; labelled by pool
/// ("write", "query"), whose connections every loop has a slice of.
enum PoolReadings {
    static let open = MetricFamily(.gauge, "tetcore_database_connections_open",
                                   help: "PostgreSQL connections open and ready, by pool.", labels: ["pool"])
    static let busy = MetricFamily(.gauge, "tetcore_database_connections_busy",
                                   help: "PostgreSQL connections with statements in flight, by pool.", labels: ["pool"])
    static let reconnects = MetricFamily(.counter, "tetcore_database_reconnects_total",
                                         help: "PostgreSQL connections made again after a failure, by pool.", labels: ["pool"])

    static func record(_ pool: PGPool, into readings: inout MetricReadings) {
        readings.record(open, pool.readyCount, labels: [pool.name])
        readings.record(busy, pool.busyCount, labels: [pool.name])
        readings.record(reconnects, pool.reconnectCount, labels: [pool.name])
    }
}
