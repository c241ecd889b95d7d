import Foundation

/// Renders the server's counters in the Prometheus text format (0.0.4).
struct MetricsExposition {
    private(set) var text = ""

    mutating func counter(_ name: String, _ help: String, _ value: Int) {
        family(name, "counter", help)
        text += "\(name) \(value)\n"
    }

    mutating func gauge(_ name: String, _ help: String, _ value: Double) {
        family(name, "gauge", help)
        text += "\(name) \(MetricsExposition.number(value))\n"
    }

    mutating func labelledCounter(_ name: String, _ help: String, label: String, _ values: [(String, Int)]) {
        family(name, "counter", help)
        for (labelValue, value) in values {
            text += "\(name){\(label)=\"\(MetricsExposition.escape(labelValue))\"} \(value)\n"
        }
    }

    private mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
