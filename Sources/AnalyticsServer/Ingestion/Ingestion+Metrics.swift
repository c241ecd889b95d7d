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

    /// This loop's ingestion counters and gauges, read on its thread.
    func record(into readings: inout MetricReadings, loopIndex: Int) {
        counters.readCounters(into: &readings)
        writer.counters.readCounters(into: &readings)
        readings.record(Self.telemetryConnections, openConnections)
        readings.record(Self.loopConnections, openConnections, labels: [String(loopIndex)])
        readings.record(Self.bufferedRows, counters.rowsBatched - writer.counters.rowsReleased)
        readings.record(Self.bufferedBytes, budget.bytes)
        readings.record(Self.backpressureActive, budget.isOverLimit ? 1 : 0)
    }
}
