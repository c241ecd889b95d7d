/// One /feed WebSocket: its subscriptions, and what it is sent.
final class FeedClient: WebSocketDelegate {
    /// Rows per data message, so a long backlog goes out in pieces a
    /// browser parses without stalling.
    static let rowsPerMessage = 500

    private unowned let feed: Feed
    /// Strong (see WebSocketConnection.delegate); let go when it closes.
    var socket: WebSocketConnection?
    /// Message subscriptions: key → only rows created after this (nil: all).
    private var messageSubscriptions: [FeedKey: Int64?] = [:]
    private var aggregates: [FeedKey: FeedAggregator] = [:]

    init(feed: Feed) {
        self.feed = feed
    }

    var keys: Set<FeedKey> { Set(messageSubscriptions.keys).union(aggregates.keys) }

    func webSocket(_ socket: WebSocketConnection, didReceive payload: UnsafeRawBufferPointer, isText: Bool) {
        guard isText else { return send(FeedJSON.error("subscriptions are JSON text messages, not binary")) }
        switch FeedRequest.parse(payload) {
        case .failure(let error):
            send(FeedJSON.error(error.message))
        case .success(.unsubscribe(let key)):
            messageSubscriptions[key] = nil
            aggregates[key] = nil
            feed.unsubscribe(self, from: key)
        case .success(.subscribe(let key, let startUs, let aggregate)):
            // A new subscription of the same kind replaces the old one.
            if let aggregate {
                aggregates[key] = FeedAggregator(type: aggregate.type, intervalSeconds: aggregate.intervalSeconds,
                                                 startUs: startUs ?? Int64.min)
            } else {
                messageSubscriptions[key] = .some(startUs)
            }
            let cache = feed.subscribe(self, to: key)
            // A loaded cache's rows are this subscription's backlog; an
            // unloaded one hands every row to all its subscribers when loaded.
            if cache.isLoaded { backlog(cache, aggregate: aggregate != nil) }
        }
    }

    func webSocketDidClose(_ socket: WebSocketConnection, code: UInt16) {
        self.socket = nil
        feed.clientClosed(self, code: code)
    }

    /// Rows the cache had not announced before, in feed order.
    func receive(_ rows: [FeedRow], from cache: FeedCache) {
        if let start = messageSubscriptions[cache.key] {
            sendRows(rows, after: start, key: cache.key)
        }
        updateAggregate(cache, with: rows)
    }

    private func backlog(_ cache: FeedCache, aggregate: Bool) {
        if aggregate {
            updateAggregate(cache, with: cache.rows)
        } else if let start = messageSubscriptions[cache.key] {
            sendRows(cache.rows, after: start, key: cache.key)
        }
    }

    private func updateAggregate(_ cache: FeedCache, with rows: [FeedRow]) {
        guard var aggregator = aggregates[cache.key] else { return }
        aggregator.add(rows)
        let items = aggregator.completed(newestUs: cache.newestUs ?? Int64.min)
        aggregates[cache.key] = aggregator
        if !items.isEmpty { sendItems(items, key: cache.key) }
    }

    private func sendRows(_ rows: [FeedRow], after start: Int64?, key: FeedKey) {
        let items = rows.lazy.filter { row in start.map { row.createdAtUs > $0 } ?? true }.map(\.json)
        sendItems(Array(items), key: key)
    }

    private func sendItems(_ items: [String], key: FeedKey) {
        var offset = 0
        while offset < items.count, socket?.state == .open {
            let end = min(offset + FeedClient.rowsPerMessage, items.count)
            send(FeedJSON.message(key, items: Array(items[offset..<end])))
            offset = end
        }
    }

    /// Sends one text message; a client whose unsent bytes pass the limit
    /// is too slow to keep up and is disconnected (1008) rather than let
    /// the server's memory grow.
    private func send(_ text: String) {
        guard let socket, socket.state == .open else { return }
        var text = text
        text.withUTF8 { socket.sendText(UnsafeRawBufferPointer($0)) }
        if socket.pendingWriteBytes > feed.maxClientBacklogBytes {
            feed.clientTooSlow(self, pendingBytes: socket.pendingWriteBytes)
            socket.fail(code: 1008, reason: "feed client too slow: backlog over the limit")
        }
    }
}
