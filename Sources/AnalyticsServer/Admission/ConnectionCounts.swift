/// Open telemetry connections, in total and per client address, for
/// MAX_CONNECTIONS and MAX_CONNECTIONS_PER_IP. A connection counts from the
/// moment its upgrade is admitted (while its row is being made) until it
/// closes or its upgrade is refused after all.
struct ConnectionCounts {
    private(set) var total = 0
    private var byHost: [String: Int] = [:]

    func count(for host: String) -> Int { byHost[host] ?? 0 }

    mutating func add(_ host: String) {
        total += 1
        byHost[host, default: 0] += 1
    }

    mutating func remove(_ host: String) {
        total -= 1
        let left = (byHost[host] ?? 1) - 1
        byHost[host] = left > 0 ? left : nil
    }
}
