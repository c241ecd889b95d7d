/// Browser feed connections; the feed's WebSocket routes bump these.
package final class FeedMetrics {
    package internal(set) var connected = 0
    package internal(set) var disconnected = 0
    /// Clients disconnected (1008) for falling behind.
    package internal(set) var clientsTooSlow = 0
    /// Cache refreshes given up after 4 x CACHE_UPDATE_TIMEOUT_S.
    package internal(set) var refreshesAbandoned = 0

    init() {}

    package var open: Int { connected - disconnected }
}
