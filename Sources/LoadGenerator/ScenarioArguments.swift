/// Parsing of the scenario options' values (`--lagging 2:3`, `--stalled
/// 1:20s`, …); each throws a message naming the option.
package enum ScenarioArguments {
    package struct Invalid: Error, CustomStringConvertible {
        package let description: String
    }

    /// "60s", "1.5m", "500ms", "2h" or a bare number of seconds.
    package static func seconds(_ text: String, _ option: String) throws -> Double {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value >= 0, value.isFinite { return value * scale }
        }
        if let value = Double(text), value >= 0, value.isFinite { return value }
        throw Invalid(description: "\(option): not a duration such as 60s, 5m or 500ms: \(text)")
    }

    package static func milliseconds(_ text: String, _ option: String) throws -> UInt64 {
        let value = try seconds(text, option) * 1000
        guard value < 1e12 else { throw Invalid(description: "\(option): too long: \(text)") }
        return UInt64(value.rounded())
    }

    /// `K[:blocks]`, blocks 1 … 1000, by default 3.
    package static func lagging(_ text: String) throws -> NetworkScenario.Lagging {
        let (count, rest) = try countAndRest(text, "--lagging")
        guard let rest else { return .init(count: count, blocks: 3) }
        guard let blocks = UInt64(rest), (1...1_000).contains(blocks) else {
            throw Invalid(description: "--lagging K[:BLOCKS]: BLOCKS must be 1 to 1000, not \(rest)")
        }
        return .init(count: count, blocks: blocks)
    }

    /// `K[:after]` (default after: 30 s).
    package static func delayed(_ text: String, _ option: String) throws -> NetworkScenario.Delayed {
        let (count, rest) = try countAndRest(text, option)
        return .init(count: count, afterMs: try rest.map { try milliseconds($0, "\(option) K[:AFTER]") } ?? 30_000)
    }

    /// `BLOCK[:K]` (default K: 1).
    package static func fork(_ text: String) throws -> NetworkScenario.Fork {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let block = UInt64(parts[0]), block >= 1, block < 10_000_000 else {
            throw Invalid(description: "--fork BLOCK[:K]: BLOCK must be a block number of the run from 1, not \(text)")
        }
        guard parts.count == 2 else { return .init(block: block, count: 1) }
        guard let count = Int(parts[1]), count >= 1 else {
            throw Invalid(description: "--fork BLOCK[:K]: K must be a positive number of nodes, not \(parts[1])")
        }
        return .init(block: block, count: count)
    }

    /// `K:SECONDS` (SECONDS may be negative or fractional).
    package static func skew(_ text: String) throws -> NetworkScenario.Skew {
        let (count, rest) = try countAndRest(text, "--skew")
        guard let rest, let seconds = Double(rest), seconds.isFinite, abs(seconds) < 1e8 else {
            throw Invalid(description: "--skew K:SECONDS: SECONDS must be a number of seconds, e.g. 1:-30 or 2:3600")
        }
        return .init(count: count, nanoseconds: Int64((seconds * 1e9).rounded()))
    }

    private static func countAndRest(_ text: String, _ option: String) throws -> (Int, String?) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let count = Int(parts[0]), count >= 1 else {
            throw Invalid(description: "\(option): K must be a positive number of nodes, not \(text)")
        }
        return (count, parts.count == 2 ? String(parts[1]) : nil)
    }
}
