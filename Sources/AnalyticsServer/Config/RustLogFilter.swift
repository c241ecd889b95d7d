import Logging

/// RUST_LOG as the original read it: a bare level or env_logger directives.
enum RustLogFilter {
    static func level(from filter: String) throws -> Logger.Level {
        var moduleLevel: Logger.Level?
        var defaultLevel: Logger.Level?
        for directive in filter.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !directive.isEmpty {
            let parts = directive.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                guard let level = map(parts[1]) else { throw bad(filter) }
                if parts[0].hasPrefix("tetcore_analytics") { moduleLevel = level }
            } else if let level = map(parts[0]) {
                defaultLevel = level
            } else if !parts[0].contains("::") && !parts[0].hasPrefix("tetcore_analytics") && parts[0].contains(where: { !$0.isLetter && $0 != "_" }) {
                throw bad(filter)
            }
        }
        guard let level = moduleLevel ?? defaultLevel else { throw bad(filter) }
        return level
    }

    private static func map(_ text: String) -> Logger.Level? {
        switch text.lowercased() {
        case "trace": return .trace
        case "debug": return .debug
        case "info": return .info
        case "warn", "warning": return .warning
        case "error", "off": return .error
        default: return nil
        }
    }

    private static func bad(_ filter: String) -> ConfigError {
        ConfigError("RUST_LOG=\"\(filter)\": expected a level (error, warn, info, debug, trace) or directives like tetcore_analytics=debug")
    }
}
