import WebServer
/// One /feed WebSocket: its subscriptions, and what it is sent.
///
/// Messages go out paced by the socket: the next one is built when the
/// kernel has taken the previous ones, so a backlog of any length costs a
/// share of the cache's rows (copy-on-write) instead of a copy in the write
/// queue. New rows a client has not taken yet are counted; past
/// FEED_MAX_CLIENT_BACKLOG_BYTES the client is too slow to keep up and is
/// disconnected with 1008.
final class FeedClient: WebSocketDelegate {
    /// A data message holds at most this many items or about this many
    /// bytes, so a long backlog goes out in pieces a browser parses without
    /// stalling.
    static let itemsPerMessage = 500
    static let bytesPerMessage = 256 * 1024

    private enum Outgoing {
        /// Stored messages, already filtered by the subscription's start.
        case rows(FeedKey, ArraySlice<FeedRow>, counted: Bool)
        /// Aggregate items (always counted).
        case items(FeedKey, ArraySlice<String>)

        var key: FeedKey {
            switch self {
            case .rows(let key, _, _), .items(let key, _): return key
            }
        }

        var isAggregate: Bool {
            if case .items = self { return true }
            return false
        }

        /// Bytes this entry counts against the client's limit.
        var countedBytes: Int {
            switch self {
            case .rows(_, let rows, true): return rows.reduce(0) { $0 + $1.json.utf8.count }
            case .rows: return 0
            case .items(_, let items): return items.reduce(0) { $0 + $1.utf8.count }
            }
        }
    }

    private unowned let feed: Feed
    /// Strong (see WebSocketConnection.delegate); let go when it closes.
    var socket: WebSocketConnection?
    /// Message subscriptions: key → only rows created after this (nil: all).
    private var messageSubscriptions: [FeedKey: Int64?] = [:]
    private var aggregates: [FeedKey: FeedAggregator] = [:]
    private var outbox: [Outgoing] = []
    /// Bytes of new rows and aggregate items waiting in the outbox.
    private var countedBytes = 0

    init(feed: Feed) {
        self.feed = feed
    }

    var keys: Set<FeedKey> { Set(messageSubscriptions.keys).union(aggregates.keys) }

    func webSocket(_ socket: WebSocketConnection, didReceive payload: UnsafeRawBufferPointer, isText: Bool) {
        guard isText else { return sendNow(FeedJSON.error("subscriptions are JSON text messages, not binary")) }
        switch FeedRequest.parse(payload) {
        case .failure(let error):
            sendNow(FeedJSON.error(error.message))
        case .success(.unsubscribe(let key)):
            messageSubscriptions[key] = nil
            aggregates[key] = nil
            dropQueued { $0.key == key }
            feed.unsubscribe(self, from: key)
        case .success(.subscribe(let key, let startUs, let aggregate)):
            // A new subscription of the same kind replaces the old one,
            // including what it had not sent yet.
            if let aggregate {
                aggregates[key] = FeedAggregator(type: aggregate.type, intervalSeconds: aggregate.intervalSeconds,
                                                 startUs: startUs ?? Int64.min)
                dropQueued { $0.key == key && $0.isAggregate }
            } else {
                messageSubscriptions[key] = .some(startUs)
                dropQueued { $0.key == key && !$0.isAggregate }
            }
            let cache = feed.subscribe(self, to: key)
            // A loaded cache's rows are this subscription's backlog; an
            // unloaded one hands every row to all its subscribers when loaded.
            if cache.isLoaded { backlog(cache, aggregate: aggregate != nil) }
        }
    }

    func webSocketDidClose(_ socket: WebSocketConnection, code: UInt16) {
        self.socket = nil
        outbox = []
        countedBytes = 0
        feed.clientClosed(self)
    }

    /// Rows the cache had not announced before, in feed order; new rows
    /// count against the client's limit, a backlog does not.
    func receive(_ rows: [FeedRow], from cache: FeedCache, isBacklog: Bool) {
        if let start = messageSubscriptions[cache.key] {
            let wanted = start.map { start in rows.filter { $0.createdAtUs > start } } ?? rows
            if !wanted.isEmpty { enqueue(.rows(cache.key, wanted[...], counted: !isBacklog)) }
        }
        updateAggregate(cache, with: rows)
    }

    private func backlog(_ cache: FeedCache, aggregate: Bool) {
        if aggregate {
            updateAggregate(cache, with: cache.rows)
        } else if let start = messageSubscriptions[cache.key] {
            // Rows are sorted: the backlog is a suffix of the cache's rows.
            let rows = cache.rows
            let first = start.map { start in rows.partitioningIndex { $0.createdAtUs > start } } ?? rows.startIndex
            if first < rows.endIndex { enqueue(.rows(cache.key, rows[first...], counted: false)) }
        }
    }

    private func updateAggregate(_ cache: FeedCache, with rows: [FeedRow]) {
        guard var aggregator = aggregates[cache.key] else { return }
        aggregator.add(rows)
        let items = aggregator.completed(newestUs: cache.newestUs ?? Int64.min)
        aggregates[cache.key] = aggregator
        if !items.isEmpty { enqueue(.items(cache.key, items[...])) }
    }

    // MARK: Sending

    private func enqueue(_ entry: Outgoing) {
        guard let socket, socket.state == .open else { return }
        outbox.append(entry)
        countedBytes += entry.countedBytes
        if countedBytes > feed.maxClientBacklogBytes {
            feed.clientTooSlow(self, pendingBytes: countedBytes + socket.pendingWriteBytes)
            outbox = []
            countedBytes = 0
            socket.fail(code: 1008, reason: "feed client too slow: backlog over the limit")
            return
        }
        pump()
    }

    private func dropQueued(where matches: (Outgoing) -> Bool) {
        for entry in outbox where matches(entry) { countedBytes -= entry.countedBytes }
        outbox.removeAll(where: matches)
    }

    /// Builds and sends messages while the socket's write queue is short.
    private func pump() {
        guard let socket else { return }
        let pacingBytes = min(feed.maxClientBacklogBytes / 2, 1 << 20)
        while socket.state == .open, !outbox.isEmpty, socket.pendingWriteBytes < pacingBytes {
            let message = takeMessage()
            var text = message
            text.withUTF8 { bytes in
                socket.sendText(UnsafeRawBufferPointer(bytes), written: { [weak self] in self?.pump() })
            }
        }
    }

    /// One message from the head of the outbox.
    private func takeMessage() -> String {
        var items: [String] = []
        var bytes = 0
        let key = outbox[0].key
        switch outbox[0] {
        case .rows(_, var rows, let counted):
            while let row = rows.first, items.count < FeedClient.itemsPerMessage, bytes < FeedClient.bytesPerMessage {
                items.append(row.json)
                bytes += row.json.utf8.count
                rows = rows.dropFirst()
            }
            if counted { countedBytes -= bytes }
            outbox[0] = .rows(key, rows, counted: counted)
            if rows.isEmpty { outbox.removeFirst() }
        case .items(_, var pending):
            while let item = pending.first, items.count < FeedClient.itemsPerMessage, bytes < FeedClient.bytesPerMessage {
                items.append(item)
                bytes += item.utf8.count
                pending = pending.dropFirst()
            }
            countedBytes -= bytes
            outbox[0] = .items(key, pending)
            if pending.isEmpty { outbox.removeFirst() }
        }
        return FeedJSON.message(key, items: items)
    }

    /// Errors skip the queue: they answer what the client just sent.
    private func sendNow(_ text: String) {
        guard let socket, socket.state == .open else { return }
        var text = text
        text.withUTF8 { socket.sendText(UnsafeRawBufferPointer($0)) }
    }
}

extension RandomAccessCollection {
    /// The first index whose element satisfies `predicate`, for a
    /// collection where it holds for a suffix (binary search).
    func partitioningIndex(where predicate: (Element) -> Bool) -> Index {
        var low = startIndex, count = self.count
        while count > 0 {
            let half = count / 2
            let middle = index(low, offsetBy: half)
            if predicate(self[middle]) {
                count = half
            } else {
                low = index(after: middle)
                count -= half + 1
            }
        }
        return low
    }
}
