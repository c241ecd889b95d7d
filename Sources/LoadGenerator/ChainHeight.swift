/// Block numbers in the catalogue's messages that carry one, advancing
/// with the run's block clock (one block every `--block-time`), so a
/// dashboard sees a chain that grows: every node reports the same best
/// block in the same slot, finality two blocks behind. (The messages that
/// carry a node's own state are built from its `ChainFollower` instead.)
///
/// A number is patched like `ts`: its template holds `digits` placeholder
/// digits (a JSON number, or the digits inside a JSON string, as the
/// catalogue has it) at a known offset. The best block starts at `base`,
/// so every number (best − lag included) has exactly `digits` digits, no
/// leading zero (which JSON forbids in a number), for 89 million slots.
package enum ChainHeight {
    package static let digits = 8
    package static let base: UInt64 = 10_000_100
    package static let finalityLag: Int64 = 2

    /// For each kind, the members that are block numbers and their offset
    /// from the best block.
    package static let members: [String: [(name: String, offset: Int64)]] = [
        "system.interval": [("height", 0), ("finalized_height", -finalityLag)],
        "block.import": [("height", 0)],
        "notify.finalized": [("height", -finalityLag)],
        "afg.finalized": [("finalized_number", -finalityLag)],
        "afg.finalized_blocks_up_to": [("number", -finalityLag)],
        "afg.received_commit": [("target_number", -finalityLag)],
        "afg.commit_issued": [("target_number", -finalityLag)],
        "afg.received_prevote": [("target_number", 0)],
        "afg.received_precommit": [("target_number", 0)],
        // The block being authored is the next one.
        "prepared_block_for_proposing": [("number", 1)],
        "slots.pre_sealed_block": [("header_num", 1)],
    ]

    /// The best block after `elapsedMs` of the run.
    package static func best(elapsedMs: UInt64, blockTimeMs: UInt64 = RealisticSchedule.defaultBlockTimeMs) -> UInt64 {
        base + elapsedMs / blockTimeMs
    }
}
