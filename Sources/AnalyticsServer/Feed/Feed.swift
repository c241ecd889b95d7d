import Logging
import Reactor
import PostgresClient
import WebServer

/// The /feed route: its clients and the shared (peer id, msg) caches.
///
/// Every cache with subscribers is refreshed every CACHE_UPDATE_INTERVAL_MS
/// (messages other instances store) and also as soon as this instance
/// commits a batch (its own messages, with the latency of one query). At
/// most one refresh per cache runs at a time; one asked for meanwhile runs
/// when it ends.
final class Feed {
    struct Options {
        var updateIntervalMs: UInt64
        var updateTimeoutMs: UInt64
        var expiryS: Int
        var maxClientBacklogBytes: Int
    }

    /// Caches nobody subscribed to for this long are dropped.
    static let unusedCacheLifetimeMs: UInt64 = 60_000

    let maxClientBacklogBytes: Int
    private let loop: EventLoop
    /// Refreshes read from the replica when there is a usable one.
    private let reads: ReadRoute
    private let options: Options
    let counters = Counters()
    private let logger: Logger
    private let timer: LoopTimer
    private var caches: [FeedKey: FeedCache] = [:]
    private var clients: [ObjectIdentifier: FeedClient] = [:]

    init(loop: EventLoop, reads: ReadRoute, options: Options, logger: Logger) {
        self.loop = loop
        self.reads = reads
        self.options = options
        self.logger = logger
        maxClientBacklogBytes = options.maxClientBacklogBytes
        timer = LoopTimer(loop: loop)
    }

    var openConnections: Int { clients.count }
    var cacheCount: Int { caches.count }

    /// Registers `/feed`.
    func install(in router: inout Router) {
        router.addWebSocket("/feed") { [unowned self] _, _, decision in
            decision.accept { socket in
                let client = FeedClient(feed: self)
                client.socket = socket
                socket.delegate = client
                self.clients[ObjectIdentifier(client)] = client
                self.counters.connected += 1
            }
        }
    }

    func start() {
        timer.start(after: options.updateIntervalMs, repeat: options.updateIntervalMs) { [unowned self] in self.tick() }
    }

    func stop() {
        timer.stop()
    }

    /// This instance committed rows: refresh now instead of at the next tick.
    func rowsCommitted() {
        for cache in caches.values where !cache.subscribers.isEmpty { refresh(cache) }
    }

    // MARK: Subscriptions

    func subscribe(_ client: FeedClient, to key: FeedKey) -> FeedCache {
        if let cache = caches[key] {
            // An idle cache was not refreshed while nobody used it.
            if cache.subscribers.isEmpty { refresh(cache) }
            cache.add(client)
            return cache
        }
        let cache = FeedCache(key: key, nowMs: loop.nowMilliseconds)
        cache.add(client)
        caches[key] = cache
        refresh(cache)
        return cache
    }

    func unsubscribe(_ client: FeedClient, from key: FeedKey) {
        guard let cache = caches[key] else { return }
        cache.remove(client)
        if cache.subscribers.isEmpty { cache.lastUsedMs = loop.nowMilliseconds }
    }

    func clientClosed(_ client: FeedClient) {
        for key in client.keys { unsubscribe(client, from: key) }
        clients[ObjectIdentifier(client)] = nil
        counters.disconnected += 1
    }

    func clientTooSlow(_ client: FeedClient, pendingBytes: Int) {
        counters.clientsTooSlow += 1
        logger.info("disconnecting a feed client too slow to read", metadata: [
            "peer": "\(client.socket?.peerAddress ?? "?")", "pending_bytes": "\(pendingBytes)",
        ])
    }

    // MARK: Refresh

    private func tick() {
        let now = loop.nowMilliseconds
        for (key, cache) in caches {
            if !cache.subscribers.isEmpty {
                cache.lastUsedMs = now
                checkRunningRefresh(cache, now: now)
                refresh(cache)
            } else if now &- cache.lastUsedMs >= Feed.unusedCacheLifetimeMs {
                caches[key] = nil
            }
        }
    }

    private func refresh(_ cache: FeedCache) {
        guard cache.refreshStartedMs == nil else {
            cache.refreshAgain = true
            return
        }
        cache.refreshStartedMs = loop.nowMilliseconds
        cache.refreshWarned = false
        cache.refreshAgain = false
        let generation = cache.refreshGeneration
        let lower = cache.nextLowerBound(nowUs: FeedTime.nowUs, expiryUs: Int64(options.expiryS) * 1_000_000)
        let parameters: [PGParameter] = [.text(cache.key.peerID), .text(cache.key.msg), .text(FeedTime.format(lower))]
        reads.queue.submit(StatementQueue.Job(sql: FeedCache.selectStatement, parameters: parameters) { [weak self, weak cache] result in
            guard let self, let cache, cache.refreshGeneration == generation else { return }
            self.refreshed(cache, result)
        }, priority: .bulk) // API requests on the same pool go first
    }

    private func refreshed(_ cache: FeedCache, _ result: Result<PGRows, PGError>) {
        cache.refreshStartedMs = nil
        cache.refreshGeneration += 1
        switch result {
        case .success(let rows):
            // The first load is the backlog of the subscriptions waiting for it.
            let isBacklog = !cache.isLoaded
            let fresh = cache.merge(rows)
            if !fresh.isEmpty {
                for client in cache.subscribers.values { client.receive(fresh, from: cache, isBacklog: isBacklog) }
            }
        case .failure(let error):
            logger.warning("feed cache refresh failed", metadata: [
                "peer_id": "\(cache.key.peerID)", "msg": "\(cache.key.msg)", "error": "\(error)",
            ])
        }
        if cache.refreshAgain, !cache.subscribers.isEmpty { refresh(cache) }
    }

    /// Warns about a refresh running past CACHE_UPDATE_TIMEOUT_S and
    /// abandons it at four times that: its result, if it ever comes, is
    /// ignored, and the next refresh starts.
    private func checkRunningRefresh(_ cache: FeedCache, now: UInt64) {
        guard let started = cache.refreshStartedMs else { return }
        let elapsed = now &- started
        if elapsed >= 4 * options.updateTimeoutMs {
            logger.error("feed cache refresh abandoned", metadata: [
                "peer_id": "\(cache.key.peerID)", "msg": "\(cache.key.msg)", "elapsed_ms": "\(elapsed)",
            ])
            counters.refreshesAbandoned += 1
            cache.refreshGeneration += 1
            cache.refreshStartedMs = nil
        } else if elapsed >= options.updateTimeoutMs, !cache.refreshWarned {
            cache.refreshWarned = true
            logger.warning("feed cache refresh is slow", metadata: [
                "peer_id": "\(cache.key.peerID)", "msg": "\(cache.key.msg)", "elapsed_ms": "\(elapsed)",
            ])
        }
    }
}
