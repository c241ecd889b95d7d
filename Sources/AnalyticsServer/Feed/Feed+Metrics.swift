extension Feed {
    /// Browser feed connections, bumped by the feed's route and clients.
    final class Counters: CounterSet {
        var connected = EventCounter(.init(.untyped, "feeds_connected", help: "Feed WebSocket connections accepted."))
        var disconnected = EventCounter(.init(.untyped, "feeds_disconnected", help: "Feed WebSocket connections ended."))
        var clientsTooSlow = EventCounter(.init(.counter, "tetcore_feed_clients_too_slow_total",
                                                help: "Feed clients disconnected (1008) for falling behind."))
        var refreshesAbandoned = EventCounter(.init(.counter, "tetcore_feed_refreshes_abandoned_total",
                                                    help: "Feed cache refreshes abandoned after 4 x CACHE_UPDATE_TIMEOUT_S."))
    }

    static let openConnections = MetricFamily(.gauge, "current_feed_connections", help: "Feed WebSocket connections open now.")
    static let caches = MetricFamily(.gauge, "tetcore_feed_caches", help: "Feed caches held, one per subscribed (peer id, msg).")

    func record(into readings: inout MetricReadings) {
        counters.readCounters(into: &readings)
        readings.record(Self.openConnections, counters.connected.value - counters.disconnected.value)
        readings.record(Self.caches, cacheCount)
    }
}
