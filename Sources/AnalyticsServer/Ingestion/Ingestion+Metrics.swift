extension Ingestion {
    static let telemetryConnections = MetricFamily(.gauge, "current_tetcore_connections", help: "Telemetry WebSocket connections open now.")
    static let loopConnections = MetricFamily(.gauge, "tetcore_event_loop_connections",
                                              help: "Telemetry WebSocket connections open now, by event loop (NUM_THREADS).",
                                              labels: ["loop"])
    static let bufferedRows = MetricFamily(.gauge, "tetcore_buffered_rows",
                                           help: "Telemetry rows accepted and not yet committed or rejected by PostgreSQL.")
    static let bufferedBytes = MetricFamily(.gauge, "tetcore_buffered_bytes",
                                            help: "Bytes of those rows held in memory (the MAX_BUFFERED_BYTES budget).")
    static let backpressureActive = MetricFamily(.gauge, "tetcore_backpressure_active",
                                                 help: "1 while node sockets are paused because the buffer is full.",
                                                 combination: .maximum)

    static let spoolBytes = MetricFamily(.gauge, "tetcore_spool_bytes", help: "Bytes of the disk spool's files (SPOOL_DIR).")
    static let spoolFiles = MetricFamily(.gauge, "tetcore_spool_files", help: "Segment files in the disk spool.")
    static let spoolOldestAge = MetricFamily(.gauge, "tetcore_spool_oldest_record_age_seconds",
                                             help: "Age of the oldest spool segment still held (its first record); 0 when empty.",
                                             combination: .maximum)

    /// This loop's ingestion counters and gauges, read on its thread.
    func record(into readings: inout MetricReadings, loopIndex: Int) {
        counters.readCounters(into: &readings)
        writer.counters.readCounters(into: &readings)
        writer.spoolCounters.readCounters(into: &readings)
        readings.record(Self.spoolBytes, writer.spoolBytes)
        readings.record(Self.spoolFiles, writer.spoolFiles)
        readings.record(Self.spoolOldestAge, writer.spoolOldestAgeSeconds())
        readings.record(Self.telemetryConnections, openConnections)
        readings.record(Self.loopConnections, openConnections, labels: [String(loopIndex)])
        readings.record(Self.bufferedRows, counters.rowsBatched - writer.counters.rowsReleased)
        readings.record(Self.bufferedBytes, budget.bytes)
        readings.record(Self.backpressureActive, budget.isOverLimit ? 1 : 0)
    }
}
