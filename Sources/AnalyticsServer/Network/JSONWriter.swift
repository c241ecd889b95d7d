import CSupport

/// Writes compact JSON into a byte array, for the network API's and the
/// subscription's bodies, which are built per request or per update from
/// memory (up to tens of thousands of nodes) rather than by PostgreSQL.
/// No intermediate String per value; separators are placed by the writer.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Whether the innermost open container already has a member.
    private var hasMember: [Bool] = []
    /// A key was just written: the next value needs no comma.
    private var afterKey = false

    init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = hasMember.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            hasMember[hasMember.count - 1] = true
        }
    }

    mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        hasMember.append(false)
    }

    mutating func endObject() {
        hasMember.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        hasMember.append(false)
    }

    mutating func endArray() {
        hasMember.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        afterKey = true
    }

    mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func null() {
        separate()
        bytes.append(contentsOf: [110, 117, 108, 108]) // null
    }

    mutating func value(_ text: String?) {
        guard let text else { return null() }
        separate()
        appendQuoted(text)
    }

    mutating func value(_ number: Int64?) {
        guard let number else { return null() }
        separate()
        appendDecimal(number)
    }

    /// The digits of `number`, without a String in between.
    private mutating func appendDecimal(_ number: Int64) {
        if number == Int64.min {
            bytes.append(contentsOf: "-9223372036854775808".utf8)
            return
        }
        var value = number.magnitude
        if number < 0 { bytes.append(UInt8(ascii: "-")) }
        let start = bytes.count
        repeat {
            bytes.append(UInt8(truncatingIfNeeded: 48 + value % 10))
            value /= 10
        } while value > 0
        bytes[start...].reverse()
    }

    mutating func value(_ number: Int?) {
        value(number.map(Int64.init))
    }

    mutating func value(_ number: Double?) {
        guard let number, number.isFinite else { return null() }
        separate()
        bytes.append(contentsOf: String(number).utf8)
    }

    mutating func value(_ flag: Bool?) {
        guard let flag else { return null() }
        separate()
        bytes.append(contentsOf: flag ? Array("true".utf8) : Array("false".utf8))
    }

    /// Already-serialised JSON (one value).
    mutating func raw(_ json: [UInt8]) {
        separate()
        bytes.append(contentsOf: json)
    }

    /// Already-serialised members (`"a":1,"b":2`) into the open object.
    mutating func rawMembers(_ json: [UInt8]) {
        guard !json.isEmpty else { return }
        separate()
        bytes.append(contentsOf: json)
    }

    /// A time (Unix ms) as the API writes it, `"2020-03-25T13:17:09.008000"`,
    /// formatted straight into the output; null when nil or out of range.
    mutating func timestamp(_ ms: Int64?) {
        guard let ms, case let (us, overflow) = ms.multipliedReportingOverflow(by: 1000), !overflow else { return null() }
        var out: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0) // 32 bytes: the 26 characters and a NUL
        let written = withUnsafeMutableBytes(of: &out) { buffer -> Bool in
            guard let base = buffer.baseAddress?.assumingMemoryBound(to: CChar.self),
                  ts_time_format(us, base) == 0 else { return false }
            separate()
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: base, count: Int(TS_TIME_FORMAT_LEN)))
            bytes.append(UInt8(ascii: "\""))
            return true
        }
        if !written { null() }
    }

    mutating func field(_ name: StaticString, timestampMs: Int64?) { key(name); timestamp(timestampMs) }

    /// `key: value` shorthands.
    mutating func field(_ name: StaticString, _ text: String?) { key(name); value(text) }
    mutating func field(_ name: StaticString, _ number: Int64?) { key(name); value(number) }
    mutating func field(_ name: StaticString, _ number: Int?) { key(name); value(number) }
    mutating func field(_ name: StaticString, _ number: Double?) { key(name); value(number) }
    mutating func field(_ name: StaticString, _ flag: Bool?) { key(name); value(flag) }

    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most text needs no escape: copied in one piece.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes.append(contentsOf: text.utf8)
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 0x0A: bytes.append(contentsOf: [92, 110])
            case 0x0D: bytes.append(contentsOf: [92, 114])
            case 0x09: bytes.append(contentsOf: [92, 116])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, 117, 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
