import Foundation

/// A `.env` file: one `KEY=VALUE` per line, an optional `export ` before the
/// key, `#` comments, blank lines. A value is bare (a ` #` starts a comment,
/// surrounding blanks are dropped), single-quoted (literal) or double-quoted
/// (`\n`, `\"` and `\\` are escapes; any other backslash stays as written).
/// Nothing is interpolated. The first bad line stops the parse with an
/// error naming the file and line.
enum DotEnv {
    /// The variables of the file at `path`; a missing file has none.
    static func read(path: String) throws -> [String: String] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("\(path): cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("\(path): is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    static func parse(_ text: String, file: String) throws -> [String: String] {
        var variables: [String: String] = [:]
        let body = text.hasPrefix("\u{FEFF}") ? text.dropFirst() : Substring(text)
        // A Swift Character holds "\r\n" as one unit, so CRLF files split here too.
        let lines = body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (offset, line) in lines.enumerated() {
            do {
                if let (key, value) = try parseLine(line) { variables[key] = value }
            } catch let problem as LineProblem {
                throw ConfigError("\(file):\(offset + 1): \(problem.description)")
            }
        }
        return variables
    }

    /// What is wrong with a line, completed by `parse` with file and line number.
    struct LineProblem: Error, CustomStringConvertible {
        let description: String
    }

    /// nil for a blank or comment line.
    static func parseLine(_ line: Substring) throws -> (String, String)? {
        var rest = line.trimmingASCIIWhitespace()
        if rest.isEmpty || rest.hasPrefix("#") { return nil }
        let afterExport = rest.dropFirst("export".count)
        if rest.hasPrefix("export"), afterExport.first?.isASCIIBlank == true {
            rest = afterExport.trimmingASCIIWhitespace()
        }
        guard let equals = rest.firstIndex(of: "=") else {
            throw LineProblem(description: "expected KEY=VALUE")
        }
        let key = rest[..<equals].trimmingASCIIWhitespace()
        guard isVariableName(key) else {
            throw LineProblem(description: "\(ConfigError.quotedForMessage(String(key))) is not a variable name (letters, digits and _, not starting with a digit)")
        }
        let value = try parseValue(rest[rest.index(after: equals)...].trimmingASCIIWhitespace())
        return (String(key), value)
    }

    private static func parseValue(_ text: Substring) throws -> String {
        guard let quote = text.first, quote == "'" || quote == "\"" else {
            // A bare value ends where a comment begins.
            var end = text.endIndex
            var index = text.startIndex
            while index < text.endIndex {
                if text[index] == "#", index > text.startIndex, text[text.index(before: index)].isASCIIBlank {
                    end = index
                    break
                }
                index = text.index(after: index)
            }
            return String(text[..<end].trimmingASCIIWhitespace())
        }
        var value = ""
        var index = text.index(after: text.startIndex)
        var closed = false
        while index < text.endIndex {
            let character = text[index]
            index = text.index(after: index)
            if character == quote {
                closed = true
                break
            }
            if quote == "\"", character == "\\", index < text.endIndex {
                let escaped = text[index]
                switch escaped {
                case "n": value.append("\n")
                case "\"", "\\": value.append(escaped)
                default: value += "\\\(escaped)"
                }
                index = text.index(after: index)
            } else {
                value.append(character)
            }
        }
        guard closed else {
            throw LineProblem(description: "the value's opening \(quote) is never closed on this line")
        }
        let trailing = text[index...].trimmingASCIIWhitespace()
        guard trailing.isEmpty || trailing.hasPrefix("#") else {
            throw LineProblem(description: "unexpected text after the closing \(quote): \(ConfigError.quotedForMessage(String(trailing)))")
        }
        return value
    }

    private static func isVariableName(_ name: Substring) -> Bool {
        guard let first = name.first, !first.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}

private extension Character {
    var isASCIIBlank: Bool { self == " " || self == "\t" }
}
