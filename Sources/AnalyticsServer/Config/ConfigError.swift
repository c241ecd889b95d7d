/// A configuration problem that stops the server. `description` is one line
/// that names the variable (or the .env file and line), the bad value and
/// what is allowed; the executable prints it and exits with status 2.
package struct ConfigError: Error, CustomStringConvertible, Equatable {
    package let description: String

    init(_ description: String) {
        self.description = description
    }

    /// `NAME="value": expected <allowed>`, with the value escaped so that the
    /// message stays on one line and cut short if it is very long.
    static func badValue(_ name: String, _ value: String, expected allowed: String) -> ConfigError {
        ConfigError("\(name)=\(quotedForMessage(value)): expected \(allowed)")
    }

    /// Longest stretch of a bad value repeated in a message.
    static let maxQuotedCharacters = 120

    /// Characters escaped as \u{…}: they would break or hide part of the line.
    private static let unprintable: Set<Unicode.GeneralCategory> = [.control, .lineSeparator, .paragraphSeparator, .format]

    static func quotedForMessage(_ value: String) -> String {
        var quoted = "\""
        for (index, scalar) in value.unicodeScalars.enumerated() {
            if index == maxQuotedCharacters {
                quoted += "…"
                break
            }
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where unprintable.contains(scalar.properties.generalCategory):
                quoted += "\\u{\(String(scalar.value, radix: 16))}"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
