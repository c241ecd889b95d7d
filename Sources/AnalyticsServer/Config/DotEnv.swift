import Foundation

/// Reads a `.env` file: KEY=VALUE lines, optional `export `, `#` comments,
/// single quotes (literal) or double quotes (\n, \", \\ escapes). A missing
/// file is an empty one.
enum DotEnv {
    static func read(_ path: String) throws -> [String: String] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("\(path): cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    static func parse(_ text: String, file: String) throws -> [String: String] {
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            let malformed = ConfigError("\(file):\(index + 1): expected KEY=VALUE")
            guard let equals = line.firstIndex(of: "=") else { throw malformed }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { throw malformed }
            guard let value = unquote(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)) else {
                throw ConfigError("\(file):\(index + 1): unterminated quote")
            }
            values[key] = value
        }
        return values
    }

    private static func unquote(_ value: String) -> String? {
        if value.hasPrefix("'") {
            guard value.count >= 2, value.hasSuffix("'") else { return nil }
            return String(value.dropFirst().dropLast())
        }
        guard value.hasPrefix("\"") else {
            // Unquoted: a # after whitespace starts a comment.
            if let comment = value.range(of: " #") { return String(value[..<comment.lowerBound]).trimmingCharacters(in: .whitespaces) }
            return value
        }
        guard value.count >= 2, value.hasSuffix("\""), !value.hasSuffix("\\\"") || value.hasSuffix("\\\\\"") else { return nil }
        var result = ""
        var escaped = false
        for character in value.dropFirst().dropLast() {
            if escaped {
                switch character {
                case "n": result.append("\n")
                case "t": result.append("\t")
                default: result.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        return escaped ? nil : result
    }
}
