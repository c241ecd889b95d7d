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
///
/// PostgreSQL may go away during the run (checking that nothing is lost
/// when it does is what `--verify` is for): a lost connection is opened
/// again, with backoff, and its session (the temporary table) set up
/// again. Sampling retries for as long as the run lasts; the verification
/// itself within `--verify-timeout`. Only the first connection must work
/// at once, so that a wrong URL fails the run before it starts.
final class Verifier {
    static let sampleMs: UInt64 = 200
    /// Reconnection backoff: 100 ms doubling to 2 s.
    static let firstRetryMs: UInt64 = 100
    static let longestRetryMs: UInt64 = 2_000
    private let connection: PGConnection
    private let loop: EventLoop
    private let networkIDs: [String]
    private let sampleTimer: LoopTimer
    private var startID: Int64 = 0
    private var lastSeenID: Int64 = 0
    private var sampling = false
    /// Rows seen per millisecond of delay.
    private var delays: [Int64: UInt64] = [:]
    /// The connection is open and its temporary table filled.
    private var sessionReady = false
    /// Waiting for the session being opened.
    private var sessionWaiters: [(PGError?) -> Void] = []
    /// The session was lost and has not come back yet (said once on stderr).
    private var outage: (since: UInt64, error: String)?
    private var sampleFailures = 0

    init(loop: EventLoop, conninfo: String, networkIDs: [String], logger: Logger) {
        self.loop = loop
        self.networkIDs = networkIDs
        connection = PGConnection(loop: loop, conninfo: conninfo, name: "verify", logger: logger)
        sampleTimer = LoopTimer(loop: loop)
    }

    /// Connects, records the run's node ids and the current highest row id,
    /// and starts sampling delays.
    func prepare(_ completion: @escaping (PGError?) -> Void) {
        openSession { [self] error in
            if let error { return completion(error) }
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

    // MARK: the session

    /// One attempt to open the connection and set up its session (the
    /// temporary table of the run's node ids); calls that come meanwhile
    /// wait for the same attempt.
    private func openSession(_ completion: @escaping (PGError?) -> Void) {
        if sessionReady && connection.state == .ready { return completion(nil) }
        sessionReady = false
        sessionWaiters.append(completion)
        guard sessionWaiters.count == 1 else { return }
        connection.connect { [self] error in
            if let error { return sessionOpened(error) }
            connection.simpleQuery("CREATE TEMPORARY TABLE loadgen_nodes (peer_id text PRIMARY KEY)") { [self] result in
                if case let .failure(error) = result { return sessionOpened(error) }
                connection.query("INSERT INTO loadgen_nodes SELECT unnest($1::text[])",
                                 [.text(Verifier.arrayLiteral(networkIDs))]) { [self] result in
                    if case let .failure(error) = result { return sessionOpened(error) }
                    sessionReady = true
                    sessionOpened(nil)
                }
            }
        }
    }

    private func sessionOpened(_ error: PGError?) {
        if error == nil, let outage {
            self.outage = nil
            let seconds = Double(loop.nowMilliseconds &- outage.since) / 1000
            Notice.write("verify: connected to PostgreSQL again after \(Format.seconds(seconds))")
        }
        let waiters = sessionWaiters
        sessionWaiters = []
        waiters.forEach { $0(error) }
    }

    /// A statement failed because the connection did: the session (and its
    /// temporary table) is gone; say so once.
    private func lost(_ error: PGError) {
        sessionReady = false
        if outage == nil {
            outage = (loop.nowMilliseconds, "\(error)")
            Notice.write("verify: lost the connection to PostgreSQL (\(error)); reconnecting")
        }
    }

    /// Runs `sql` on a working session, opening the connection again as
    /// often as needed (backoff from `firstRetryMs` to `longestRetryMs`)
    /// until the loop clock reaches `deadline`; a statement the server
    /// rejects fails at once.
    private func run(_ sql: String, _ parameters: [PGParameter], until deadline: UInt64,
                     _ completion: @escaping (Result<PGRows, PGError>) -> Void) {
        var delay = Verifier.firstRetryMs
        func attempt() {
            openSession { [self] error in
                if let error { return retry(error) }
                connection.query(sql, parameters) { [self] result in
                    switch result {
                    case let .failure(error) where error.kind == .connection:
                        lost(error)
                        retry(error)
                    default:
                        completion(result)
                    }
                }
            }
        }
        func retry(_ error: PGError) {
            if error.kind != .connection { return completion(.failure(error)) }
            if outage == nil { lost(error) }
            let now = loop.nowMilliseconds
            guard now < deadline else {
                let message = "no working connection to PostgreSQL within --verify-timeout; last error: \(error)"
                return completion(.failure(PGError(kind: .connection, sqlState: nil, message: message)))
            }
            LoopTimer.once(on: loop, after: min(delay, deadline - now)) { attempt() }
            delay = min(delay * 2, Verifier.longestRetryMs)
        }
        attempt()
    }

    // MARK: sampling

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
        // One attempt: while PostgreSQL is away the next sample tries again.
        run(sql, [.int64(lastSeenID), .text(String(sentAt))], until: 0) { [self] result in
            switch result {
            case let .success(rows):
                sampleFailures = 0
                for row in 0..<rows.count {
                    if let last = rows.string(row, 0).flatMap({ Int64($0) }) { lastSeenID = max(lastSeenID, last) }
                    if let ms = rows.string(row, 1).flatMap({ Int64($0) }), let n = rows.string(row, 2).flatMap({ UInt64($0) }) {
                        delays[max(ms, 0), default: 0] += n
                    }
                }
            case .failure:
                sampleFailures += 1
            }
            if let next { return next() }
            guard sampling else { return }
            // Back off while the samples fail: 200 ms doubling to 2 s.
            let wait = min(Verifier.sampleMs << UInt64(min(sampleFailures, 4)), Verifier.longestRetryMs)
            sampleTimer.start(after: wait) { [self] in sample() }
        }
    }

    // MARK: verifying

    /// Waits (at most `timeoutMs`, reconnecting if need be) until every
    /// confirmed message of every node is stored, then reports what is
    /// stored, missing and duplicated.
    func verify(nodes: [VerifiedNode], timeoutMs: UInt64, _ completion: @escaping (Verification) -> Void) {
        let deadline = loop.nowMilliseconds + timeoutMs
        if outage != nil {
            Notice.write("verify: sending has ended; waiting for PostgreSQL (at most \(Format.seconds(Double(timeoutMs) / 1000)), --verify-timeout)")
        }
        let sql = """
            SELECT n.peer_id, count(*), count(DISTINCT (l.logs->>'loadgen_seq')::int8)
            FROM loadgen_nodes n JOIN peer_connections p ON p.peer_id = n.peer_id
            JOIN tetcore_logs l ON l.peer_connection_id = p.id
            WHERE l.id > $1 GROUP BY n.peer_id
            """
        func attempt() {
            run(sql, [.int64(startID)], until: deadline) { [self] result in
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
                            settle(nodes, counts: counts, timedOut: !complete, deadline: deadline, completion)
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
                        timedOut: Bool, deadline: UInt64, _ completion: @escaping (Verification) -> Void) {
        var pending = nodes.filter { !$0.unconfirmed.isEmpty }
        var storedUnconfirmed: [String: UInt64] = [:]
        func next() {
            guard let node = pending.popLast() else {
                completion(Verification(nodes: nodes, counts: counts, storedUnconfirmed: storedUnconfirmed,
                                        delays: delays, timedOut: timedOut))
                return
            }
            // Ranges, not numbers: a node given up on may have thousands.
            let lower = node.unconfirmed.map { String($0.lowerBound) }.joined(separator: ",")
            let upper = node.unconfirmed.map { String($0.upperBound) }.joined(separator: ",")
            run("""
                SELECT count(DISTINCT (l.logs->>'loadgen_seq')::int8) FROM peer_connections p
                JOIN tetcore_logs l ON l.peer_connection_id = p.id
                WHERE p.peer_id = $1 AND l.id > $2 AND EXISTS (
                    SELECT 1 FROM unnest($3::int8[], $4::int8[]) r(lo, hi)
                    WHERE (l.logs->>'loadgen_seq')::int8 >= r.lo AND (l.logs->>'loadgen_seq')::int8 < r.hi)
                """, [.text(node.networkID), .int64(startID), .text("{\(lower)}"), .text("{\(upper)}")],
                until: deadline) { result in
                switch result {
                case let .success(rows):
                    storedUnconfirmed[node.networkID] = UInt64(rows.string(0, 0) ?? "0") ?? 0
                    next()
                case let .failure(error):
                    completion(Verification(failure: "\(error)"))
                }
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
