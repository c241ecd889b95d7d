/// Who a synthetic node says it is in `system.connected`. A pure function
/// of (seed, index, name prefix): the same arguments give the same node.
package struct NodeIdentity: Equatable {
    package let index: Int
    /// A libp2p-style peer id ("12D3KooW" and 44 base58 characters); the
    /// server keys `peer_connections.peer_id` on it.
    package let networkID: String
    package let name: String
    package let authority: Bool
    /// How long the node had been running when the run started, in
    /// milliseconds (under a week). Its `startup_time` is the run's start
    /// minus this, so the uptime a server shows is plausible whenever the
    /// run happens (a fixed date would age by the day).
    package let uptimeAtRunStartMs: UInt64

    static let base58 = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")

    package init(seed: UInt64, index: Int, namePrefix: String) {
        var random = SeededRandom(seed: seed, stream: 1, index: index)
        var id = "12D3KooW"
        for _ in 0..<44 {
            id.append(NodeIdentity.base58[Int(random.next() % 58)])
        }
        self.index = index
        networkID = id
        name = namePrefix + String(index)
        // One node in four is a validator, as on a small public testnet.
        authority = random.next() % 4 == 0
        uptimeAtRunStartMs = random.next() % 604_800_000
    }

    /// `startup_time` (Unix milliseconds) for a run that started at
    /// `runStartMs` (Unix milliseconds).
    package func startupTime(runStartMs: UInt64) -> UInt64 {
        runStartMs > uptimeAtRunStartMs ? runStartMs - uptimeAtRunStartMs : 0
    }
}
