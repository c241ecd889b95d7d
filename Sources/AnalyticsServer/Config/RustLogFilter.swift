import Logging

/// RUST_LOG as the original server read it through env_logger, reduced to
/// the one level this server logs at.
///
/// Accepted: a bare level (`debug`) or comma-separated directives
/// (`tetcore_analytics=debug,actix_web=info`), where a directive is
/// `level`, `module=level` or a bare `module` (everything from it). The level
/// comes from the directives for `tetcore_analytics` or its modules, the most
/// verbose one if there are several; without such a directive, from the bare
/// default level (the last one given). Anything else, including directives
/// that never mention this server or a default, is an error rather than a
/// silent default.
enum RustLogFilter {
    static func level(from filter: String) -> Logger.Level? {
        var ownLevel: Logger.Level?
        var defaultLevel: Logger.Level?
        for rawDirective in filter.split(separator: ",") {
            let directive = rawDirective.trimmingASCIIWhitespace()
            if directive.isEmpty { continue }
            let parts = directive.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let module: Substring
            let level: Logger.Level
            if parts.count == 2 {
                guard let parsed = Self.level(named: parts[1].trimmingASCIIWhitespace()) else { return nil }
                module = parts[0].trimmingASCIIWhitespace()
                level = parsed
            } else if let bare = Self.level(named: directive) {
                defaultLevel = bare
                continue
            } else {
                // env_logger reads a lone name as "all levels from this module".
                module = directive
                level = .trace
            }
            guard isModulePath(module) else { return nil }
            if module == ownModule || module.hasPrefix(ownModule + "::") {
                ownLevel = min(ownLevel ?? level, level)
            }
        }
        return ownLevel ?? defaultLevel
    }

    /// The original crate's name, the prefix of all its log targets.
    static let ownModule = "tetcore_analytics"

    /// env_logger's level names; `off` has no swift-log twin, and the
    /// quietest level is the closest.
    private static func level(named name: Substring) -> Logger.Level? {
        switch name.lowercased() {
        case "trace": return .trace
        case "debug": return .debug
        case "info": return .info
        case "warn", "warning": return .warning
        case "error": return .error
        case "off": return .critical
        default: return nil
        }
    }

    /// A Rust path such as `actix_web` or `tetcore_analytics::db`.
    private static func isModulePath(_ text: Substring) -> Bool {
        text.split(separator: "::", omittingEmptySubsequences: false).allSatisfy { segment in
            guard let first = segment.first, first.isLetter || first == "_" else { return false }
            return segment.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        }
    }
}
