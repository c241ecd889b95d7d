import Glibc
import Logging

/// How the text of one variable becomes a typed value. `allowed` says what
/// is accepted; it ends every error message and appears in --help, so the
/// documentation and the check cannot drift apart.
struct SettingParser<Value> {
    let allowed: String
    /// nil when the text is not acceptable.
    let parse: (String) -> Value?
    /// The value as shown in --help, docs/settings.md and the start-up log.
    let format: (Value) -> String
    /// How a rejected text is quoted back in the error (hides secrets).
    var redact: (String) -> String = { $0 }
}

extension SettingParser where Value == Int {
    /// Decimal digits; single underscores may group them (`524_288`).
    static func integer(_ range: ClosedRange<Int>) -> SettingParser {
        SettingParser(
            allowed: "an integer from \(range.lowerBound) to \(range.upperBound)",
            parse: { text in
                let groups = text.trimmingASCIIWhitespace().split(separator: "_", omittingEmptySubsequences: false)
                guard groups.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
                      let value = Int(groups.joined()), range.contains(value) else { return nil }
                return value
            },
            format: { String($0) })
    }
}

extension SettingParser where Value == Bool {
    static let boolean = SettingParser(
        allowed: "true, false, yes, no, 1 or 0",
        parse: { text in
            switch text.trimmingASCIIWhitespace().lowercased() {
            case "true", "yes", "1": return true
            case "false", "no", "0": return false
            default: return nil
            }
        },
        format: { String($0) })
}

extension SettingParser where Value == String {
    /// A file-system path, used as given; only an empty one is refused.
    static let path = SettingParser(
        allowed: "a non-empty path",
        parse: { $0.isEmpty ? nil : $0 },
        format: { $0 })

    /// A numeric IPv4 or IPv6 address: the listener binds it as given and
    /// does no name resolution.
    static let ipAddress = SettingParser(
        allowed: "an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or ::",
        parse: { text in
            var buffer = in6_addr()  // large enough for either family
            let isAddress = inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
            return isAddress ? text : nil
        },
        format: { $0 })
}

extension SettingParser where Value == NetworkAllowlist {
    /// Comma-separated CIDR networks; empty means every address.
    static let networks = SettingParser(
        allowed: "empty (everyone) or comma-separated IPv4/IPv6 networks such as 10.0.0.0/8,2001:db8::/32",
        parse: { NetworkAllowlist(parsing: $0) },
        format: { $0.allowsEveryone ? "everyone" : $0.text })
}

extension SettingParser where Value == String? {
    /// A secret: any non-empty text, never shown (logs, --help, errors).
    static let secret = SettingParser(
        allowed: "a non-empty string",
        parse: { text -> String?? in text.isEmpty ? String??.none : text },
        format: { $0 == nil ? "unset" : "(set, hidden)" },
        redact: { _ in "(hidden)" })

    /// A directory that turns a feature on; unset (or empty) leaves it off.
    static let optionalPath = SettingParser(
        allowed: "a path, or empty (off)",
        parse: { text -> String?? in text.isEmpty ? String??.some(nil) : text },
        format: { $0 ?? "unset" })

    static let databaseURL = SettingParser(
        allowed: "a postgres:// or postgresql:// URL or a libpq key=value conninfo",
        // Spelled out: with Value == String?, a bare `nil` here would mean "parsed as unset".
        parse: { text -> String?? in
            guard DatabaseURL.isValid(text) else { return String??.none }
            return text
        },
        format: { $0.map(DatabaseURL.masked) ?? "unset" },
        redact: DatabaseURL.masked)
}

extension SettingParser where Value == Logger.Level {
    /// swift-log's level names, any case; `warn` is taken for `warning`.
    static let logLevel = SettingParser(
        allowed: "trace, debug, info, notice, warning, error or critical",
        parse: { text in
            let name = text.trimmingASCIIWhitespace().lowercased()
            return name == "warn" ? .warning : Logger.Level(rawValue: name)
        },
        format: { $0.rawValue })

    static let rustLog = SettingParser(
        allowed: "a level (error, warn, info, debug, trace) or env_logger directives that give "
            + "tetcore_analytics or everything a level, such as tetcore_analytics=debug,actix_web=info",
        parse: RustLogFilter.level(from:),
        format: { $0.rawValue })
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingASCIIWhitespace() -> Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return Substring()
        }
        return Substring(self[first...last])
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
