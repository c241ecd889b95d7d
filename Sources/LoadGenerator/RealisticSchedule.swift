/// What a Tetcore node sends and when, for `--profile realistic`.
///
/// Block events follow one chain clock shared by every node of the run
/// (a block every `blockTimeMs` from the start of the run, as BABE slots
/// are), each node seeing them its own propagation delay later; periodic
/// reports follow each node's own clock (a random phase per node).
///
/// Verbosity 0 (a node's default telemetry endpoint) gives the basic set:
/// both interval messages, `block.import` and `notify.finalized`.
/// Verbosity 1 adds the consensus, transaction-pool and authorship
/// messages of the catalogue and `system.network_state`.
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

    /// Kinds a node builds from its own state (its chain and blocks)
    /// rather than from the catalogue.
    package static let ownKinds: Set<String> = ["system.interval", "block.import", "notify.finalized", "afg.finalized_blocks_up_to"]
    /// The kinds a node sends at verbosity 0.
    package static let basicKinds: Set<String> = ["system.interval", "block.import", "notify.finalized"]
    /// Messages a kind stands for: the interval tick is two messages.
    package static func messages(of kind: String) -> Int { kind == "system.interval" ? 2 : 1 }

    package static let defaultBlockTimeMs: UInt64 = 6_000

    package let blockTimeMs: UInt64
    package let verbosity: Int
    package let events: [Event]

    package init(blockTimeMs: UInt64 = RealisticSchedule.defaultBlockTimeMs, verbosity: Int = 0) {
        self.blockTimeMs = blockTimeMs
        self.verbosity = verbosity
        let slot = blockTimeMs
        // Offsets inside a block's slot, given for 6 s blocks and scaled.
        func at(_ ms: UInt64) -> UInt64 { ms * slot / RealisticSchedule.defaultBlockTimeMs }
        let all = [
            Event(kinds: ["system.interval"], periodMs: 5_000, offsetMs: 0,
                  onChainClock: false, authorityOnly: false, everyNth: 1),
            Event(kinds: ["system.network_state"], periodMs: 60_000, offsetMs: 0,
                  onChainClock: false, authorityOnly: false, everyNth: 1),
            // A validator authors about one slot in eight.
            Event(kinds: ["slots.starting_authorship", "prepared_block_for_proposing", "slots.pre_sealed_block"],
                  periodMs: slot, offsetMs: 0, onChainClock: true, authorityOnly: true, everyNth: 8),
            Event(kinds: ["block.import", "babe.checked_and_importing", "txpool.import"],
                  periodMs: slot, offsetMs: at(100), onChainClock: true, authorityOnly: false, everyNth: 1),
            Event(kinds: ["afg.received_prevote", "afg.received_precommit"],
                  periodMs: slot, offsetMs: at(2_000), onChainClock: true, authorityOnly: false, everyNth: 1),
            Event(kinds: ["afg.received_commit", "afg.finalized_blocks_up_to", "afg.finalized", "notify.finalized"],
                  periodMs: slot, offsetMs: at(3_000), onChainClock: true, authorityOnly: false, everyNth: 1),
            Event(kinds: ["afg.commit_issued", "afg.announcing_blocks_to_voted_peers"],
                  periodMs: slot, offsetMs: at(3_000), onChainClock: true, authorityOnly: true, everyNth: 1),
        ]
        events = all.compactMap { event in
            let kinds = verbosity >= 1 ? event.kinds : event.kinds.filter(RealisticSchedule.basicKinds.contains)
            return kinds.isEmpty ? nil : Event(kinds: kinds, periodMs: event.periodMs, offsetMs: event.offsetMs,
                                               onChainClock: event.onChainClock, authorityOnly: event.authorityOnly,
                                               everyNth: event.everyNth)
        }
    }

    /// Every kind the schedule sends.
    package var kinds: Set<String> {
        Set(events.flatMap(\.kinds))
    }

    /// The kinds that must be in the catalogue.
    package var catalogueKinds: Set<String> {
        kinds.subtracting(RealisticSchedule.ownKinds)
    }

    /// Messages per minute of a node that follows its chain (hwbench and
    /// system.connected, once per connection, not included).
    package func messagesPerMinute(authority: Bool) -> Double {
        events.filter { authority || !$0.authorityOnly }.reduce(0) { total, event in
            let messages = event.kinds.reduce(0) { $0 + RealisticSchedule.messages(of: $1) }
            return total + Double(messages) * 60_000 / Double(event.periodMs) / Double(event.everyNth)
        }
    }

    /// One node's pending events: the next due time (ms since the run
    /// started) of each schedule event it takes part in, and its round
    /// (on the chain clock: the run's block number).
    struct NodeClock {
        var due: [UInt64]
        var round: [UInt64]
        let events: [Int]

        /// `chainDelayMs`: how late the node sees each block.
        init(schedule: RealisticSchedule, identity: NodeIdentity, seed: UInt64, joinedMs: UInt64, chainDelayMs: UInt64) {
            var random = SeededRandom(seed: seed, stream: 3, index: identity.index)
            let ownPhase = random.next() % 60_000
            var due: [UInt64] = [], round: [UInt64] = [], events: [Int] = []
            for (index, event) in schedule.events.enumerated() where identity.authority || !event.authorityOnly {
                let offset = event.offsetMs + (event.onChainClock ? chainDelayMs : ownPhase % event.periodMs)
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
        mutating func advance(_ slot: Int, in schedule: RealisticSchedule) {
            let event = schedule.events[events[slot]]
            due[slot] += event.periodMs * event.everyNth
            round[slot] += event.everyNth
        }

        /// The round of the first event that sends `kind`.
        func firstRound(of kind: String, in schedule: RealisticSchedule) -> UInt64? {
            events.indices.first { schedule.events[events[$0]].kinds.contains(kind) }.map { round[$0] }
        }

        var nextDue: UInt64 {
            due.min() ?? .max
        }
    }
}
