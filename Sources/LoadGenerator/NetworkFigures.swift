/// The network figures of a node's interval messages, changing as a real
/// node's do: its peer count drifts by one now and then, and its bandwidth
/// varies around a level of its own. Drawn afresh every tick, as before,
/// they made a node's peers and bandwidth charts pure noise.
struct NetworkFigures {
    private(set) var peers: Int
    private let downloadLevel: UInt64
    private let uploadLevel: UInt64

    init(random: inout SeededRandom) {
        peers = 20 + Int(random.next() % 30)
        downloadLevel = 50_000 + random.next() % 200_000
        uploadLevel = downloadLevel * (50 + random.next() % 30) / 100
    }

    /// The next tick's figures (bytes per second).
    mutating func next(_ random: inout SeededRandom) -> (peers: Int, download: UInt64, upload: UInt64) {
        switch random.next() % 8 {
        case 0: peers = max(4, peers - 1)
        case 1: peers = min(60, peers + 1)
        default: break
        }
        let download = Self.around(downloadLevel, &random)
        return (peers, download, Self.around(uploadLevel, &random))
    }

    /// `level` ± 20 %.
    private static func around(_ level: UInt64, _ random: inout SeededRandom) -> UInt64 {
        level * (80 + random.next() % 41) / 100
    }
}
