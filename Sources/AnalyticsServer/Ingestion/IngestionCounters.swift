/// Why a telemetry message was not stored.
enum RejectReason: String, CaseIterable {
    case invalidJSON = "invalid_json"
    case notObject = "not_object"
    case badTimestamp = "bad_ts"
    case badID = "bad_id"
    case tooManyNodeIDs = "too_many_ids"
    case tooLarge = "too_large"
}

/// One event loop's ingestion counters, bumped by its Ingestion and
/// telemetry connections with no lock or atomic. A reference, so that the
/// loop's connections share it; read at scrape time (CounterSet).
final class IngestionCounters: CounterSet {
    /// Data messages received from nodes (pings and pongs excluded).
    var messagesReceived = EventCounter(.init(.untyped, "tetcore_message_count",
                                              help: "Telemetry data messages received (pings and pongs excluded)."))
    var bytesReceived = EventCounter(.init(.untyped, "tetcore_bytes_received", help: "Bytes of telemetry data messages received."))
    var rejected = LabelledEventCounter(.init(.counter, "tetcore_messages_rejected_total",
                                              help: "Telemetry messages not stored, by reason.", labels: ["reason"]),
                                        preset: RejectReason.allCases.map { [$0.rawValue] })
    var nodesConnected = EventCounter(.init(.untyped, "nodes_connected_count", help: "Telemetry WebSocket connections accepted."))
    var nodesDropped = EventCounter(.init(.untyped, "nodes_dropped_count", help: "Telemetry WebSocket connections ended."))
    var upgradesRefused = EventCounter(.init(.counter, "tetcore_upgrades_refused_total",
                                             help: "Telemetry upgrades refused with 503 (database unavailable)."))
    var connectionsRefused = LabelledEventCounter(
        .init(.counter, "tetcore_connections_refused_total",
              help: "Telemetry upgrades refused before the upgrade (INGEST_ALLOW, blocks: 403; connection limits: 503), by reason.",
              labels: ["reason"]),
        preset: Admission.Refusal.allCases.map { [$0.rawValue] })
    var rateLimitCloses = EventCounter(.init(.counter, "tetcore_rate_limit_closes_total",
                                             help: "Telemetry connections closed with 1008 for going over INGEST_MAX_BYTES_PER_S."))
    var backpressurePausedMs = EventCounter(.init(.counter, "tetcore_backpressure_paused_seconds_total",
                                                  help: "Time node sockets spent paused by backpressure, counted when each pause ends.",
                                                  scale: 0.001))
    /// Rows handed to a batcher. Not a family itself: less the rows the
    /// writer committed or saw rejected, it is the buffered-rows gauge.
    var rowsBatched = 0

    func reject(_ reason: RejectReason) {
        rejected.increment([reason.rawValue])
    }
}
