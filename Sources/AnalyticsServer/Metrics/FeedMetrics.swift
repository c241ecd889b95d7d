/// Browser feed connections; the feed's WebSocket routes bump these.
public final class FeedMetrics {
    public internal(set) var connected = 0
    public internal(set) var disconnected = 0
    /// Clients disconnected (1008) for falling behind.
    public internal(set) var clientsTooSlow = 0
    /// Cache refreshes given up after 4 x CACHE_UPDATE_TIMEOUT_S.
    public internal(set) var refreshesAbandoned = 0

    init() {}

    public var open: Int { connected - disconnected }
}
