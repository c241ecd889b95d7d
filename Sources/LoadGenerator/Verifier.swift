import Logging
import Reactor
import PostgresClient

/// What a node sent, for `--verify`.
struct VerifiedNode {
    let networkID: String
    /// Messages whose write completed: the server must have stored each
    /// exactly once.
    let confirmed: UInt64
    /// Numbers of messages whose write failed as the connection broke: the
    /// server may have any of them, never twice.
    let unconfirmed: [Range<UInt64>]
}

/// `--verify`: checks in the server's database that every message of the
/// run was stored exactly once, and samples how long messages took from
/// send to visible row.
///
/// Rows of the run are found through `peer_connections.peer_id` (the
/// nodes' `network_id`s, kept in a temporary table) and `tetcore_logs.id`
/// above the highest id at the start, so earlier runs with the same seed
/// do not count. Each row's `loadgen_seq` tells which message it is.
///
/// Delay: every `sampleMs` the rows that became visible since the last
/// sample are grouped by (sample time − `ts`), in milliseconds. Rows are
/// seen at the first sample after they become visible, so a delay is
/// over-stated by up to `sampleMs`.
final class Verifier {
    static let sampleMs: UInt64 = 200
    private let connection: PGConnection
    private let loop: EventLoop
    private let networkIDs: [String]
    private let sampleTimer: LoopTimer
    private var startID: Int64 = 0
    private var lastSeenID: Int64 = 0
    private var sampling = false
    /// Rows seen per millisecond of delay.
    private var delays: [Int64: UInt64] = [:]

    init(loop: EventLoop, conninfo: String, networkIDs: [String], logger: Logger) {
        self.loop = loop
        self.networkIDs = networkIDs
        connection = PGConnection(loop: loop, conninfo: conninfo, name: "verify", logger: logger)
        sampleTimer = LoopTimer(loop: loop)
    }

    /// Connects, records the run's node ids and the current highest row id,
    /// and starts sampling delays.
    func prepare(_ completion: @escaping (PGError?) -> Void) {
        connection.connect { [self] error in
            if let error { return completion(error) }
            connection.simpleQuery("CREATE TEMPORARY TABLE loadgen_nodes (peer_id text PRIMARY KEY)") { [self] result in
                if case let .failure(error) = result { return completion(error) }
                connection.query("INSERT INTO loadgen_nodes SELECT unnest($1::text[])",
                                 [.text(Verifier.arrayLiteral(networkIDs))]) { [self] result in
                    if case let .failure(error) = result { return completion(error) }
                    connection.query("SELECT coalesce(max(id), 0) FROM tetcore_logs") { [self] result in
                        switch result {
                        case let .failure(error):
                            completion(error)
                        case let .success(rows):
                            startID = Int64(rows.string(0, 0) ?? "0") ?? 0
                            lastSeenID = startID
                            sampling = true
                            sampleTimer.start(after: Verifier.sampleMs) { [self] in sample() }
                            completion(nil)
                        }
                    }
                }
            }
        }
    }

    private func sample(then next: (() -> Void)? = nil) {
        let sentAt = Double(WallClock.nowNanoseconds) / 1e9
        let sql = """
            WITH fresh AS (SELECT id, created_at, peer_connection_id FROM tetcore_logs WHERE id > $1),
                 mark AS (SELECT coalesce(max(id), $1) AS last FROM fresh)
            SELECT mark.last, h.ms, h.n FROM mark LEFT JOIN (
                SELECT floor(($2::float8 - extract(epoch FROM f.created_at)::float8) * 1000)::int8 AS ms, count(*) AS n
                FROM fresh f JOIN peer_connections p ON p.id = f.peer_connection_id
                JOIN loadgen_nodes n ON n.peer_id = p.peer_id
                GROUP BY 1) h ON true
            """
        connection.query(sql, [.int64(lastSeenID), .text(String(sentAt))]) { [self] result in
            if case let .success(rows) = result {
                for row in 0..<rows.count {
                    if let last = rows.string(row, 0).flatMap({ Int64($0) }) { lastSeenID = max(lastSeenID, last) }
                    if let ms = rows.string(row, 1).flatMap({ Int64($0) }), let n = rows.string(row, 2).flatMap({ UInt64($0) }) {
                        delays[max(ms, 0), default: 0] += n
                    }
                }
            }
            if let next { return next() }
            if sampling { sampleTimer.start(after: Verifier.sampleMs) { [self] in sample() } }
        }
    }

    /// Waits (at most `timeoutMs`) until every confirmed message of every
    /// node is stored, then reports what is stored, missing and duplicated.
    func verify(nodes: [VerifiedNode], timeoutMs: UInt64, _ completion: @escaping (Verification) -> Void) {
        let deadline = loop.nowMilliseconds + timeoutMs
        let sql = """
            SELECT n.peer_id, count(*), count(DISTINCT (l.logs->>'loadgen_seq')::int8)
            FROM loadgen_nodes n JOIN peer_connections p ON p.peer_id = n.peer_id
            JOIN tetcore_logs l ON l.peer_connection_id = p.id
            WHERE l.id > $1 GROUP BY n.peer_id
            """
        func attempt() {
            connection.query(sql, [.int64(startID)]) { [self] result in
                switch result {
                case let .failure(error):
                    stopSampling()
                    completion(Verification(failure: "\(error)"))
                case let .success(rows):
                    var counts: [String: (rows: UInt64, distinct: UInt64)] = [:]
                    for row in 0..<rows.count {
                        guard let id = rows.string(row, 0) else { continue }
                        counts[id] = (UInt64(rows.string(row, 1) ?? "0") ?? 0, UInt64(rows.string(row, 2) ?? "0") ?? 0)
                    }
                    let complete = nodes.allSatisfy { (counts[$0.networkID]?.distinct ?? 0) >= $0.confirmed }
                    if complete || loop.nowMilliseconds >= deadline {
                        // One last delay sample so rows seen just now count.
                        sample { [self] in
                            stopSampling()
                            settle(nodes, counts: counts, timedOut: !complete, completion)
                        }
                    } else {
                        LoopTimer.once(on: loop, after: 250, attempt)
                    }
                }
            }
        }
        attempt()
    }

    /// Counts, for the nodes that have unconfirmed messages, how many of
    /// those are stored, then builds the verification.
    private func settle(_ nodes: [VerifiedNode], counts: [String: (rows: UInt64, distinct: UInt64)],
                        timedOut: Bool, _ completion: @escaping (Verification) -> Void) {
        var pending = nodes.filter { !$0.unconfirmed.isEmpty }
        var storedUnconfirmed: [String: UInt64] = [:]
        func next() {
            guard let node = pending.popLast() else {
                completion(Verification(nodes: nodes, counts: counts, storedUnconfirmed: storedUnconfirmed,
                                        delays: delays, timedOut: timedOut))
                return
            }
            let numbers = node.unconfirmed.flatMap { $0 }.map(String.init).joined(separator: ",")
            connection.query("""
                SELECT count(DISTINCT (l.logs->>'loadgen_seq')::int8) FROM peer_connections p
                JOIN tetcore_logs l ON l.peer_connection_id = p.id
                WHERE p.peer_id = $1 AND l.id > $2 AND (l.logs->>'loadgen_seq')::int8 = ANY($3::int8[])
                """, [.text(node.networkID), .int64(startID), .text("{\(numbers)}")]) { result in
                if case let .success(rows) = result {
                    storedUnconfirmed[node.networkID] = UInt64(rows.string(0, 0) ?? "0") ?? 0
                }
                next()
            }
        }
        next()
    }

    private func stopSampling() {
        sampling = false
        sampleTimer.stop()
    }

    func close() {
        stopSampling()
        connection.close()
    }

    /// A PostgreSQL text[] literal.
    static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingBackslashesAndQuotes + "\"" }.joined(separator: ",") + "}"
    }
}

private extension String {
    var replacingBackslashesAndQuotes: String {
        var out = ""
        for character in self {
            if character == "\\" || character == "\"" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}

/// The outcome of `--verify`.
package struct Verification {
    /// Confirmed messages found stored (each counted once).
    package var stored: UInt64 = 0
    package var missing: UInt64 = 0
    /// Rows beyond the first of the same message.
    package var duplicated: UInt64 = 0
    /// Messages whose write failed as a connection broke, and how many of
    /// them the server stored anyway.
    package var unconfirmed: UInt64 = 0
    package var unconfirmedStored: UInt64 = 0
    /// Up to ten nodes with missing or duplicated messages.
    package var problemNodes: [String] = []
    package var delayP50Ms: Int64?
    package var delayP99Ms: Int64?
    package var delaySamples: UInt64 = 0
    package var timedOut = false
    package var failure: String?

    package var isClean: Bool {
        failure == nil && missing == 0 && duplicated == 0
    }

    init(failure: String) {
        self.failure = failure
    }

    init(nodes: [VerifiedNode], counts: [String: (rows: UInt64, distinct: UInt64)],
         storedUnconfirmed: [String: UInt64], delays: [Int64: UInt64], timedOut: Bool) {
        for node in nodes {
            let count = counts[node.networkID] ?? (0, 0)
            let extra = storedUnconfirmed[node.networkID] ?? 0
            let found = min(count.distinct - min(extra, count.distinct), node.confirmed)
            stored += found
            missing += node.confirmed - found
            duplicated += count.rows - count.distinct
            unconfirmed += node.unconfirmed.reduce(0) { $0 + UInt64($1.count) }
            unconfirmedStored += extra
            if (found < node.confirmed || count.rows > count.distinct) && problemNodes.count < 10 {
                problemNodes.append(node.networkID)
            }
        }
        self.timedOut = timedOut
        delaySamples = delays.values.reduce(0, +)
        delayP50Ms = Verification.percentile(0.50, of: delays, total: delaySamples)
        delayP99Ms = Verification.percentile(0.99, of: delays, total: delaySamples)
    }

    static func percentile(_ p: Double, of histogram: [Int64: UInt64], total: UInt64) -> Int64? {
        guard total > 0 else { return nil }
        let rank = UInt64((Double(total) * p).rounded(.up))
        var seen: UInt64 = 0
        for (ms, n) in histogram.sorted(by: { $0.key < $1.key }) {
            seen += n
            if seen >= max(rank, 1) { return ms }
        }
        return histogram.keys.max()
    }
}
