/// The settings table rendered for people: --help and docs/settings.md.
extension Settings {
    /// Width --help text is wrapped to. ArgumentParser re-wraps any line
    /// that does not fit the terminal (80 columns when it cannot tell), so
    /// the text stays inside that.
    static let helpWidth = 78
    private static let helpIndent = String(repeating: " ", count: 6)

    /// Every setting: name and default on one line, then its meaning and
    /// what it accepts, indented and wrapped.
    package static func helpText() -> String {
        SettingsTable.all.map { row in
            let explanation = wrap("\(row.meaning) Allowed: \(row.allowed).", width: helpWidth - helpIndent.count)
            return (["  \(row.name) (default: \(row.defaultText))"] + explanation.map { helpIndent + $0 })
                .joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// A Markdown table with one row per setting, for docs/settings.md.
    package static func markdownTable() -> String {
        let header = ["| Variable | Default | Meaning |", "|---|---|---|"]
        let rows = SettingsTable.all.map { row in
            let meaning = markdownCell("\(row.meaning) Allowed: \(row.allowed).")
            return "| `\(row.name)` | \(markdownCell(row.defaultText)) | \(meaning) |"
        }
        return (header + rows).joined(separator: "\n")
    }

    private static func markdownCell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|")
    }

    /// Greedy word wrap; a word longer than the width gets a line of its own.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " \(word)"
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
