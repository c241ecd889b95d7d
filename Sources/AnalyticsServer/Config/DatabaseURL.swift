/// DATABASE_URL in either of libpq's two forms: a `postgres://` or
/// `postgresql://` URI, or a key=value conninfo string (`host=db user=x`).
/// Only the syntax is checked here; libpq judges the rest when it connects.
enum DatabaseURL {
    static let schemes = ["postgres://", "postgresql://"]
    /// Keywords whose values never reach a log line.
    static let secretKeywords: Set<Substring> = ["password", "sslpassword"]
    static let mask = "***"

    static func isValid(_ text: String) -> Bool {
        if schemes.contains(where: text.hasPrefix) {
            return !text.unicodeScalars.contains { $0.properties.isWhitespace || $0.properties.generalCategory == .control }
        }
        let scan = scanConninfo(text)
        return scan.isWellFormed && !scan.pairs.isEmpty
    }

    /// The text with every password replaced by `***`: the one in the URI's
    /// user info and any `password=` query parameter or conninfo keyword.
    /// Also used on malformed text, so it masks whatever it can recognise.
    static func masked(_ text: String) -> String {
        var result = text
        // Replace from the end so earlier ranges stay valid.
        for range in secretRanges(in: text).sorted(by: { $0.lowerBound > $1.lowerBound }) {
            result.replaceSubrange(range, with: mask)
        }
        return result
    }

    private static func secretRanges(in text: String) -> [Range<String.Index>] {
        guard let authorityStart = urlAuthorityStart(text) else {
            return scanConninfo(text).pairs.filter { secretKeywords.contains($0.key) && !$0.value.isEmpty }.map(\.value)
        }
        var ranges: [Range<String.Index>] = []
        // libpq ends the user info at the first '@', but a password with an
        // unescaped '@', '/' or '?' would then leak its tail: masking up to
        // the last '@' errs on the side of hiding too much.
        var queryFrom = authorityStart
        if let at = text[authorityStart...].lastIndex(of: "@") {
            if let colon = text[authorityStart..<at].firstIndex(of: ":"), text.index(after: colon) < at {
                ranges.append(text.index(after: colon)..<at)
            }
            queryFrom = at
        }
        if let question = text[queryFrom...].firstIndex(of: "?") {
            var parameterStart = text.index(after: question)
            while parameterStart < text.endIndex {
                let parameterEnd = text[parameterStart...].firstIndex(of: "&") ?? text.endIndex
                let parameter = text[parameterStart..<parameterEnd]
                if let equals = parameter.firstIndex(of: "="), secretKeywords.contains(parameter[..<equals]),
                   text.index(after: equals) < parameterEnd {
                    ranges.append(text.index(after: equals)..<parameterEnd)
                }
                parameterStart = parameterEnd < text.endIndex ? text.index(after: parameterEnd) : parameterEnd
            }
        }
        return ranges
    }

    /// Where the authority of `scheme://…` text begins. Any scheme counts
    /// here: a mistyped mysql:// URL must not show its password either.
    private static func urlAuthorityStart(_ text: String) -> String.Index? {
        let schemeCharacters = text.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
        guard !schemeCharacters.isEmpty, text[schemeCharacters.endIndex...].hasPrefix("://") else { return nil }
        return text.index(schemeCharacters.endIndex, offsetBy: 3)
    }

    /// The key=value pairs of a conninfo string, each value's range covering
    /// its quotes. Scanning goes on past errors (recording them) so that a
    /// malformed string can still be masked.
    struct ConninfoScan {
        var pairs: [(key: Substring, value: Range<String.Index>)] = []
        var isWellFormed = true
    }

    /// libpq's grammar: `keyword = value` separated by whitespace; a value is
    /// either a run of non-space characters or single-quoted, and a
    /// backslash escapes the next character in both.
    static func scanConninfo(_ text: String) -> ConninfoScan {
        var scan = ConninfoScan()
        var index = text.startIndex
        func skipSpace() {
            while index < text.endIndex, text[index].isWhitespace { index = text.index(after: index) }
        }
        /// Moves past the character after a backslash; false at the end of the text.
        func skipEscaped() -> Bool {
            index = text.index(after: index)
            guard index < text.endIndex else { return false }
            index = text.index(after: index)
            return true
        }
        while true {
            skipSpace()
            guard index < text.endIndex else { break }
            let keyStart = index
            while index < text.endIndex, !text[index].isWhitespace, text[index] != "=" { index = text.index(after: index) }
            let key = text[keyStart..<index]
            if key.isEmpty || !key.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) {
                scan.isWellFormed = false
            }
            skipSpace()
            guard index < text.endIndex, text[index] == "=" else {
                scan.isWellFormed = false
                continue
            }
            index = text.index(after: index)
            skipSpace()
            let valueStart = index
            if index < text.endIndex, text[index] == "'" {
                index = text.index(after: index)
                var closed = false
                while index < text.endIndex {
                    if text[index] == "\\" {
                        if !skipEscaped() { break }
                    } else if text[index] == "'" {
                        index = text.index(after: index)
                        closed = true
                        break
                    } else {
                        index = text.index(after: index)
                    }
                }
                if !closed { scan.isWellFormed = false }
            } else {
                while index < text.endIndex, !text[index].isWhitespace {
                    if text[index] == "\\" {
                        if !skipEscaped() { scan.isWellFormed = false; break }
                    } else {
                        index = text.index(after: index)
                    }
                }
            }
            scan.pairs.append((key, valueStart..<index))
        }
        return scan
    }
}
