import Foundation
@testable import TestSupport

/// What Grafana does to a panel's query before its datasource runs it,
/// done here because Grafana itself is not installable: the built-in
/// interval variables, the dashboard's template variables, and (for SQL)
/// the PostgreSQL datasource's macros.
struct GrafanaQuery {
    /// The dashboard's time range.
    let from: Date
    let to: Date
    /// The panel's $__interval in milliseconds (`GrafanaQuery.intervalMs`).
    let intervalMs: Int
    /// The datasource's scrape interval (Prometheus), for $__rate_interval.
    var scrapeIntervalMs = 15_000
    /// Chosen values of each template variable.
    var variables: [String: [String]] = [:]

    /// Grafana's $__interval: the range over the number of points, rounded
    /// to a round duration, never below the panel's or datasource's minimum.
    static func intervalMs(from: Date, to: Date, maxDataPoints: Int = 1000, minimumMs: Int) -> Int {
        let raw = (to.timeIntervalSince(from) * 1000) / Double(maxDataPoints)
        return max(minimumMs, roundedInterval(raw))
    }

    /// Grafana's table of round intervals (kbn.roundInterval): each raw
    /// interval below a bound becomes that row's value.
    static func roundedInterval(_ ms: Double) -> Int {
        let table: [(below: Double, value: Int)] = [
            (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000), (3_500, 2_000),
            (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000), (45_000, 30_000), (90_000, 60_000),
            (210_000, 120_000), (450_000, 300_000), (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000),
            (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000), (16_200_000, 10_800_000),
            (32_400_000, 21_600_000), (86_400_000, 43_200_000), (604_800_000, 86_400_000), (1_814_400_000, 604_800_000),
            (3_628_800_000, 2_592_000_000),
        ]
        return table.first { ms < $0.below }?.value ?? 31_536_000_000
    }

    /// A duration as Grafana writes it into $__interval: 10ms, 20s, 5m, 2h, 1d.
    static func durationText(_ ms: Int) -> String {
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] where ms >= size && ms % size == 0 {
            return "\(ms / size)\(unit)"
        }
        return "\(ms)ms"
    }

    /// A duration such as `5m`, `'10s'` or `100ms`, in seconds.
    static func seconds(ofDuration text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: " '\""))
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3_600), ("d", 86_400), ("w", 604_800)]
        for (unit, scale) in units where trimmed.hasSuffix(unit) {
            if let number = Double(trimmed.dropLast(unit.count)) { return number * scale }
        }
        return nil
    }

    // MARK: Variables

    enum Dialect {
        /// Multi-value variables become quoted, comma-separated SQL literals.
        case sql
        /// Multi-value variables become a regular expression alternation.
        case prometheus
    }

    /// The built-in interval variables, then the template variables.
    func interpolate(_ text: String, _ dialect: Dialect) -> String {
        let rateMs = max(intervalMs + scrapeIntervalMs, 4 * scrapeIntervalMs)
        var result = text
            .replacingOccurrences(of: "$__interval_ms", with: String(intervalMs))
            .replacingOccurrences(of: "${__interval}", with: Self.durationText(intervalMs))
            .replacingOccurrences(of: "$__interval", with: Self.durationText(intervalMs))
            .replacingOccurrences(of: "$__rate_interval", with: Self.durationText(rateMs))
        // Longest names first, so that $peer is not taken from $peer_id.
        for name in variables.keys.sorted(by: { $0.count > $1.count }) {
            let value = format(variables[name] ?? [], dialect)
            for form in ["${\(name)}", "[[\(name)]]", "$\(name)"] {
                result = result.replacingOccurrences(of: form, with: value)
            }
        }
        return result
    }

    private func format(_ values: [String], _ dialect: Dialect) -> String {
        switch dialect {
        case .sql:
            return values.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }.joined(separator: ",")
        case .prometheus:
            if values.count == 1 { return Self.regexEscaped(values[0]) }
            return "(" + values.map(Self.regexEscaped).joined(separator: "|") + ")"
        }
    }

    private static func regexEscaped(_ value: String) -> String {
        // ".+" and the like are an "All" value written as a pattern on purpose.
        if value == ".+" || value == ".*" { return value }
        var escaped = ""
        for character in value {
            if "\\^$.|?*+()[]{}".contains(character) { escaped += "\\\\" }
            escaped.append(character)
        }
        return escaped
    }

    // MARK: SQL macros

    /// Variables, then the PostgreSQL datasource's macros. Throws on a
    /// macro it does not know, so a panel can not pass unexpanded.
    func expandSQL(_ sql: String) throws -> String {
        var text = interpolate(sql, .sql)
        while let start = text.range(of: "$__") {
            let nameEnd = text[start.upperBound...].firstIndex { !($0.isLetter || $0 == "_") } ?? text.endIndex
            let name = String(text[start.upperBound..<nameEnd])
            guard nameEnd < text.endIndex, text[nameEnd] == "(" else { throw TestFailure("macro $__\(name) without arguments") }
            let (arguments, end) = try Self.arguments(in: text, openingAt: nameEnd)
            text.replaceSubrange(start.lowerBound..<end, with: try macro(name, arguments))
        }
        return text
    }

    private func macro(_ name: String, _ arguments: [String]) throws -> String {
        func argument(_ index: Int) throws -> String {
            guard index < arguments.count, !arguments[index].isEmpty else { throw TestFailure("$__\(name) needs argument \(index + 1)") }
            return arguments[index]
        }
        switch name {
        case "timeFilter":
            return "\(try argument(0)) BETWEEN '\(Self.rfc3339(from))' AND '\(Self.rfc3339(to))'"
        case "timeFrom":
            return "'\(Self.rfc3339(from))'"
        case "timeTo":
            return "'\(Self.rfc3339(to))'"
        case "timeGroup", "timeGroupAlias":
            guard let seconds = Self.seconds(ofDuration: try argument(1)), seconds > 0 else {
                throw TestFailure("$__\(name): bad interval \(arguments)")
            }
            let width = seconds.rounded() == seconds ? String(Int(seconds)) : String(seconds)
            let group = "floor(extract(epoch from \(try argument(0)))/\(width))*\(width)"
            return name == "timeGroup" ? group : group + " AS \"time\""
        case "unixEpochFilter":
            return "\(try argument(0)) >= \(Int(from.timeIntervalSince1970)) AND \(try argument(0)) <= \(Int(to.timeIntervalSince1970))"
        default:
            throw TestFailure("unknown macro $__\(name)")
        }
    }

    /// The comma-separated arguments of the parenthesis at `open` (commas
    /// inside nested parentheses or quotes do not split), and the index
    /// after its closing parenthesis.
    private static func arguments(in text: String, openingAt open: String.Index) throws -> ([String], String.Index) {
        var depth = 0, quoted = false, current = "", arguments: [String] = []
        var index = text.index(after: open)
        while index < text.endIndex {
            let character = text[index]
            if character == "'" { quoted.toggle() }
            if !quoted && character == "(" { depth += 1 }
            if !quoted && character == ")" {
                if depth == 0 {
                    arguments.append(current.trimmingCharacters(in: .whitespaces))
                    return (arguments, text.index(after: index))
                }
                depth -= 1
            }
            if !quoted && depth == 0 && character == "," {
                arguments.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
            index = text.index(after: index)
        }
        throw TestFailure("unclosed macro arguments in \(text)")
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

/// A dashboard file of deploy/grafana/dashboards/: its variables and its
/// panels' queries.
struct GrafanaDashboard {
    struct Target {
        let panel: String
        let refId: String
        let query: String
        let format: String
        let minimumIntervalMs: Int?
        let maxDataPoints: Int?
    }

    struct Variable {
        let name: String
        let query: String
        let allValue: String?
    }

    let title: String
    let defaultRange: String
    let targets: [Target]
    let variables: [Variable]

    init(file: String) throws {
        let url = ServerProcess.repositoryRoot.appendingPathComponent("deploy/grafana/dashboards/\(file)")
        guard let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any],
              let panels = root["panels"] as? [[String: Any]] else { throw TestFailure("\(file) is not a dashboard") }
        title = root["title"] as? String ?? file
        defaultRange = (root["time"] as? [String: Any])?["from"] as? String ?? ""
        targets = panels.flatMap { panel -> [Target] in
            let title = panel["title"] as? String ?? "?"
            let minimum = (panel["interval"] as? String).flatMap(GrafanaQuery.seconds(ofDuration:)).map { Int($0 * 1000) }
            return (panel["targets"] as? [[String: Any]] ?? []).map { target in
                Target(panel: title, refId: target["refId"] as? String ?? "?",
                       query: target["rawSql"] as? String ?? target["expr"] as? String ?? "",
                       format: target["format"] as? String ?? "time_series", minimumIntervalMs: minimum,
                       maxDataPoints: panel["maxDataPoints"] as? Int)
            }
        }
        let list = (root["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        variables = list.map { variable in
            let query = variable["query"] as? String ?? (variable["query"] as? [String: Any])?["query"] as? String ?? ""
            return Variable(name: variable["name"] as? String ?? "", query: query, allValue: variable["allValue"] as? String)
        }
    }
}
