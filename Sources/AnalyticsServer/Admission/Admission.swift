import Synchronization

/// The limits telemetry connections are admitted under (settings
/// INGEST_ALLOW, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP,
/// INGEST_MAX_BYTES_PER_S, INGEST_RATE_WINDOW_S, INGEST_BLOCK_S).
package struct AdmissionPolicy {
    package var allowlist = NetworkAllowlist.everyone
    package var maxConnections = Int.max
    package var maxConnectionsPerIP = Int.max
    package var maxBytesPerSecond = Int.max
    package var rateWindowSeconds = 10
    package var blockSeconds = 60

    package init() {}

    /// The policy the settings ask for: built here and nowhere else.
    package init(_ settings: Settings) {
        allowlist = settings.ingestAllow
        maxConnections = settings.maxConnections
        maxConnectionsPerIP = settings.maxConnectionsPerIP
        maxBytesPerSecond = settings.ingestMaxBytesPerS
        rateWindowSeconds = settings.ingestRateWindowS
        blockSeconds = settings.ingestBlockS
    }
}

/// Who may open a telemetry connection, decided before the upgrade:
/// INGEST_ALLOW networks (403), addresses blocked after going over the data
/// rate (403), MAX_CONNECTIONS and MAX_CONNECTIONS_PER_IP (503).
///
/// One per process, shared by every event loop: the limits hold for the
/// whole server. A mutex guards the counts and the blocklist; it is taken
/// once per upgrade, close or block, never per message.
package final class Admission {

    enum Refusal: String, CaseIterable {
        case notAllowed = "not_allowed"
        case blocked = "blocked"
        case tooManyConnections = "too_many_connections"
        case tooManyFromAddress = "too_many_from_address"
    }

    private struct State {
        var counts = ConnectionCounts()
        var blocklist: AddressBlocklist
    }

    let policy: AdmissionPolicy
    private let state: Mutex<State>

    init(policy: AdmissionPolicy) {
        self.policy = policy
        state = Mutex(State(blocklist: AddressBlocklist(blockSeconds: policy.blockSeconds)))
    }

    var openConnections: Int { state.withLock { $0.counts.total } }

    /// Admits a connection from `host` (counted until `release`), or says
    /// why not.
    /// `nowMs` is a monotonic clock (every loop's libuv clock is the same
    /// CLOCK_MONOTONIC, so blocks made on one loop hold on the others).
    func admit(_ host: String, nowMs: UInt64) -> Refusal? {
        // The allowlist is immutable: checked outside the lock.
        guard policy.allowlist.allows(host) else { return .notAllowed }
        return state.withLock { state in
            let refusal: Refusal?
            if state.blocklist.isBlocked(host, nowMs: nowMs) {
                refusal = .blocked
            } else if state.counts.total >= policy.maxConnections {
                refusal = .tooManyConnections
            } else if state.counts.count(for: host) >= policy.maxConnectionsPerIP {
                refusal = .tooManyFromAddress
            } else {
                refusal = nil
            }
            if refusal == nil { state.counts.add(host) }
            return refusal
        }
    }

    func release(_ host: String) {
        state.withLock { $0.counts.remove(host) }
    }

    /// A connection from `host` went over the data rate: block the address
    /// and return for how many milliseconds.
    func rateExceeded(by host: String, nowMs: UInt64) -> UInt64 {
        state.withLock { state in
            state.blocklist.expire(nowMs: nowMs)
            return state.blocklist.block(host, nowMs: nowMs)
        }
    }

    /// The address part of "ip:port", "[v6]:port", a bare IPv4 or IPv6
    /// address (what peers and proxy headers give).
    static func host(of address: String) -> String {
        if address.hasPrefix("["), let end = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<end])
        }
        let colons = address.filter { $0 == ":" }.count
        if colons == 1, let colon = address.firstIndex(of: ":") { return String(address[..<colon]) }
        return address
    }
}
