/// What a Tetcore node sends and when, for `--profile realistic`.
///
/// Block events follow one chain clock shared by every node of the run
/// (6 s slots counted from the start of the run, as BABE slots are), each
/// node seeing them a little later (0–500 ms of gossip delay of its own);
/// periodic reports follow each node's own clock (a random phase per node).
package struct RealisticSchedule {
    package struct Event {
        /// Kinds sent together, in this order.
        package let kinds: [String]
        package let periodMs: UInt64
        /// Offset inside the period: on the chain clock, or added to the
        /// node's own phase.
        package let offsetMs: UInt64
        package let onChainClock: Bool
        package let authorityOnly: Bool
        /// Sent in one period of `everyNth` only (block authorship rotates
        /// among validators); 1 means every period.
        package let everyNth: UInt64
    }

    package static let slotMs: UInt64 = 6_000
    package static let gossipJitterMs: UInt64 = 500

    package static let events: [Event] = [
        Event(kinds: ["system.interval"], periodMs: 5_000, offsetMs: 0,
              onChainClock: false, authorityOnly: false, everyNth: 1),
        Event(kinds: ["system.network_state"], periodMs: 60_000, offsetMs: 0,
              onChainClock: false, authorityOnly: false, everyNth: 1),
        // A validator authors about one slot in eight.
        Event(kinds: ["slots.starting_authorship", "prepared_block_for_proposing", "slots.pre_sealed_block"],
              periodMs: slotMs, offsetMs: 0, onChainClock: true, authorityOnly: true, everyNth: 8),
        Event(kinds: ["block.import", "babe.checked_and_importing", "txpool.import"],
              periodMs: slotMs, offsetMs: 100, onChainClock: true, authorityOnly: false, everyNth: 1),
        Event(kinds: ["afg.received_prevote", "afg.received_precommit"],
              periodMs: slotMs, offsetMs: 2_000, onChainClock: true, authorityOnly: false, everyNth: 1),
        Event(kinds: ["afg.received_commit", "afg.finalized_blocks_up_to", "afg.finalized", "notify.finalized"],
              periodMs: slotMs, offsetMs: 3_000, onChainClock: true, authorityOnly: false, everyNth: 1),
        Event(kinds: ["afg.commit_issued", "afg.announcing_blocks_to_voted_peers"],
              periodMs: slotMs, offsetMs: 3_000, onChainClock: true, authorityOnly: true, everyNth: 1),
    ]

    /// Every kind the schedule sends (the catalogue must have them all).
    package static var kinds: Set<String> {
        Set(events.flatMap(\.kinds))
    }

    /// Messages per minute of one node.
    package static func messagesPerMinute(authority: Bool) -> Double {
        events.filter { authority || !$0.authorityOnly }.reduce(0) { total, event in
            total + Double(event.kinds.count) * 60_000 / Double(event.periodMs) / Double(event.everyNth)
        }
    }

    /// One node's pending events: the next due time (ms since the run
    /// started) of each schedule event it takes part in.
    struct NodeClock {
        var due: [UInt64]
        var round: [UInt64]
        let events: [Int]

        init(identity: NodeIdentity, seed: UInt64, joinedMs: UInt64) {
            var random = SeededRandom(seed: seed, stream: 3, index: identity.index)
            let ownPhase = random.next() % 60_000
            let gossip = random.next() % RealisticSchedule.gossipJitterMs
            var due: [UInt64] = [], round: [UInt64] = [], events: [Int] = []
            for (index, event) in RealisticSchedule.events.enumerated() where identity.authority || !event.authorityOnly {
                let offset = event.offsetMs + (event.onChainClock ? gossip : ownPhase % event.periodMs)
                // First occurrence at or after joining.
                var n = joinedMs > offset ? (joinedMs - offset + event.periodMs - 1) / event.periodMs : 0
                if event.everyNth > 1 {
                    let turn = UInt64(identity.index) % event.everyNth
                    n += (turn + event.everyNth - n % event.everyNth) % event.everyNth
                }
                events.append(index)
                round.append(n)
                due.append(n * event.periodMs + offset)
            }
            self.due = due
            self.round = round
            self.events = events
        }

        /// Moves entry `slot` to its next occurrence.
        mutating func advance(_ slot: Int) {
            let event = RealisticSchedule.events[events[slot]]
            due[slot] += event.periodMs * event.everyNth
            round[slot] += event.everyNth
        }

        var nextDue: UInt64 {
            due.min() ?? .max
        }
    }
}
