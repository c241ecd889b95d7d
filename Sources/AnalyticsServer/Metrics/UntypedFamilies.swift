/// The original's counters, under its names, written as `untyped` families.
///
/// Those names predate Prometheus's conventions (`tetcore_message_count`
/// is no histogram's count, `requests` lacks `_total`): typed `counter`,
/// they fail `promtool check metrics`, and swift-prometheus has no untyped
/// family, so these few lines are written here. Dashboards and alerts that
/// use them (rate(), increase()) work as before: PromQL ignores the type.
enum UntypedFamilies {
    struct Family {
        let name: String
        let help: String
        let value: Int
    }

    /// Names and help are constants of this module: nothing to escape.
    static func write(_ families: [Family], into buffer: inout [UInt8]) {
        for family in families {
            buffer.append(contentsOf: "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) untyped\n".utf8)
            buffer.append(contentsOf: "\(family.name) \(family.value)\n".utf8)
        }
    }
}
