/// The reputations a synthetic node reports for its peers in
/// `system.network_state`, changing from one report to the next as a real
/// node's peerset scores do: good behaviour earns a little, scores decay
/// towards zero, and now and then a peer is penalised (a bad block, a
/// timeout). Without this every report said 0 and the reputation
/// dashboard drew flat lines. A function of (seed, node index).
struct PeerReputations {
    private var random: SeededRandom
    private(set) var values: [Int]

    init(seed: UInt64, index: Int, peers: Int) {
        random = SeededRandom(seed: seed, stream: 11, index: index)
        values = Array(repeating: 0, count: peers)
        for peer in values.indices {
            values[peer] = Int(random.next() % 4_000) - 1_000
        }
    }

    /// The next report's scores.
    mutating func advance() {
        for peer in values.indices {
            // A 10 % decay (substrate's decays towards zero too) and a small
            // gain: most peers settle around +1,500; a penalty, rare, fades
            // over a quarter of an hour of reports.
            values[peer] = values[peer] * 90 / 100 + Int(random.next() % 300)
            if random.next() % 40 == 0 {
                values[peer] -= 1_000 + Int(random.next() % 9_000)
            }
        }
    }
}
