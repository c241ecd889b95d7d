/// Browser feed connections; the feed's WebSocket routes bump these.
public final class FeedMetrics {
    public internal(set) var connected = 0
    public internal(set) var disconnected = 0

    init() {}

    public var open: Int { connected - disconnected }
}
