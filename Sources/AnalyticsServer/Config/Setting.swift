/// A row of the settings table as the table's readers see it: parsing,
/// --help, docs/settings.md and the start-up log all go through this.
protocol SettingRow {
    var name: String { get }
    var meaning: String { get }
    /// What the parser accepts, as ended every error message.
    var allowed: String { get }
    var defaultText: String { get }
    /// Parses the row's variable (or its fallback) from `variables` into
    /// `settings`; an absent variable leaves the default in place.
    func apply(_ variables: [String: String], to settings: inout Settings) throws
    func effectiveText(of settings: Settings) -> String
}

/// One setting: variable name, default, meaning, parser and the property
/// of `Settings` it fills.
struct Setting<Value>: SettingRow {
    /// An older variable read when the setting's own one is unset.
    struct Fallback {
        let name: String
        let parser: SettingParser<Value>
    }

    let name: String
    let defaultValue: Value
    let parser: SettingParser<Value>
    let property: WritableKeyPath<Settings, Value>
    let meaning: String
    var fallback: Fallback?

    var allowed: String { parser.allowed }
    var defaultText: String { parser.format(defaultValue) }

    func apply(_ variables: [String: String], to settings: inout Settings) throws {
        if let text = variables[name] {
            settings[keyPath: property] = try Self.parse(text, as: name, with: parser)
        } else if let fallback, let text = variables[fallback.name] {
            settings[keyPath: property] = try Self.parse(text, as: fallback.name, with: fallback.parser)
        }
    }

    func effectiveText(of settings: Settings) -> String {
        parser.format(settings[keyPath: property])
    }

    private static func parse(_ text: String, as name: String, with parser: SettingParser<Value>) throws -> Value {
        guard let value = parser.parse(text) else {
            throw ConfigError.badValue(name, parser.redact(text), expected: parser.allowed)
        }
        return value
    }
}
