import PostgresClient
/// The messages of one (peer id, msg) of the last CACHE_EXPIRY_S seconds,
/// shared by every client subscribed to them and refreshed from
/// PostgreSQL, so messages stored by any instance of the server appear.
///
/// Rows do not commit in created_at order (created_at is the node's own
/// time; batches of several connections and instances commit in any
/// order), so a refresh asks again for the rows of the last
/// `lateRowWindowUs` before the newest one seen and drops those it already
/// has by id: a row committed late within that window is delivered once,
/// a row seen before is never delivered again.
final class FeedCache {
    /// How far behind the newest row a row may commit and still be seen.
    /// Batches commit within DB_SAVE_LATENCY_MS plus the write time; a
    /// minute also covers short database stalls and instances whose
    /// batches wait longer.
    static let lateRowWindowUs: Int64 = 60_000_000

    static let selectStatement = """
        SELECT t.id, (extract(epoch FROM t.created_at) * 1000000)::int8, \
        ((t.logs - ARRAY['ts', 'id', 'msg', 'level', 'line']) \
        || jsonb_build_object('created_at', to_char(t.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.US')))::text, \
        t.logs->>'time', t.logs->>'target', t.logs->>'name' \
        FROM peer_connections p JOIN tetcore_logs t ON t.peer_connection_id = p.id \
        WHERE p.peer_id = $1 AND t.logs->>'msg' = $2 AND t.created_at >= $3::timestamp \
        ORDER BY t.created_at, t.id
        """

    let key: FeedKey
    /// Sorted by (created_at, id).
    private(set) var rows: [FeedRow] = []
    /// Whether the first load has completed (until then, subscribers wait).
    private(set) var isLoaded = false
    /// Created_at of the newest row seen.
    private(set) var newestUs: Int64?
    /// Ids of rows a refresh may return again, with their created_at.
    private var recentIDs: [Int64: Int64] = [:]
    private var lowerBoundUs = Int64.min

    /// Clients subscribed, by identity.
    private(set) var subscribers: [ObjectIdentifier: FeedClient] = [:]
    /// Loop time when the cache last had a subscriber.
    var lastUsedMs: UInt64

    // Refresh state (driven by Feed).
    var refreshGeneration = 0
    var refreshStartedMs: UInt64?
    var refreshWarned = false
    /// A refresh was asked for while one ran: run again when it ends.
    var refreshAgain = false

    init(key: FeedKey, nowMs: UInt64) {
        self.key = key
        lastUsedMs = nowMs
    }

    func add(_ client: FeedClient) { subscribers[ObjectIdentifier(client)] = client }
    func remove(_ client: FeedClient) { subscribers[ObjectIdentifier(client)] = nil }

    /// The lower created_at bound of the next refresh query; forgets the
    /// rows that query cannot return and the rows past `expiryUs`.
    func nextLowerBound(nowUs: Int64, expiryUs: Int64) -> Int64 {
        let oldestKept = nowUs - expiryUs
        let lateRowBound = newestUs.map { $0 - FeedCache.lateRowWindowUs } ?? oldestKept
        let bound = max(lowerBoundUs, oldestKept, lateRowBound)
        lowerBoundUs = bound
        recentIDs = recentIDs.filter { $0.value >= bound }
        if let first = rows.firstIndex(where: { $0.createdAtUs >= oldestKept }) {
            rows.removeFirst(first)
        } else {
            rows.removeAll()
        }
        return bound
    }

    /// Merges a refresh's result; returns the rows not seen before, sorted.
    func merge(_ result: PGRows) -> [FeedRow] {
        var fresh: [FeedRow] = []
        for index in 0..<result.count {
            guard let id = result.string(index, 0).flatMap({ Int64($0) }),
                  let createdAt = result.string(index, 1).flatMap({ Int64($0) }),
                  let json = result.string(index, 2) else { continue }
            guard recentIDs.updateValue(createdAt, forKey: id) == nil else { continue }
            fresh.append(FeedRow(id: id, createdAtUs: createdAt, json: json, time: result.string(index, 3).flatMap { Double($0) },
                                 target: result.string(index, 4), name: result.string(index, 5)))
        }
        isLoaded = true
        guard let newest = fresh.last else { return [] }
        newestUs = max(newestUs ?? newest.createdAtUs, newest.createdAtUs)
        if let last = rows.last, !last.precedes(fresh[0]) {
            // A row committed late: merge instead of appending.
            rows = (rows + fresh).sorted { $0.precedes($1) }
        } else {
            rows += fresh
        }
        return fresh
    }
}
