// libFuzzer target in Swift: the request-target decoding of WebServer/HTTPRequest.swift
// (percentDecode, QueryParameters) and the typed readers of API/QueryArguments.swift
// (strings, integers, timestamps through ts_time_parse/ts_time_format).
// scripts/fuzz compiles this file together with the server's own sources
// listed below, so the code under test is the code the server runs.
//
// Invariants, checked on every input:
// - the query parses exactly when every name and value is well-formed
//   percent-encoding of UTF-8, and the pairs are what an independent
//   byte-by-byte decoder (below) makes of the input, in order;
// - decoded pairs survive a round trip: encoded again and re-parsed, they
//   come back unchanged;
// - the path decodes like a query component except that '+' stays '+';
// - QueryArguments either returns a value consistent with the pair it read
//   or throws its typed 400; a timestamp it returns is 26 characters and
//   normalises to itself.
//
// fuzz-sources: Sources/WebServer/HTTPRequest.swift
// fuzz-sources: Sources/WebServer/HTTPResponse.swift
// fuzz-sources: Sources/Reactor/SharedBytes.swift
// fuzz-sources: Sources/AnalyticsServer/API/APIError.swift
// fuzz-sources: Sources/AnalyticsServer/API/QueryArguments.swift

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQueryString(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    // The HTTP parser hands the request target over as a String the same way.
    let target = String(decoding: bytes, as: UTF8.self)
    let split = QueryParameters.splitTarget(target[...])
    checkSplit(split, bytes: Array(target.utf8))
    checkPath(split.path)
    let query = split.query ?? ""
    let parsed = QueryParameters(parsing: query)
    checkAgainstReference(parsed, query)
    if let parsed {
        checkRoundTrip(parsed)
        checkArguments(parsed)
    }
    checkTimestamp(target)
    return 0
}

private func require(_ condition: Bool, _ what: @autoclosure () -> String) {
    if !condition { fatalError("invariant broken: \(what())") }
}

// MARK: Reference decoder

/// Decodes one component by index arithmetic (unlike percentDecode's
/// iterator); nil for a '%' not followed by two hex digits or for bytes
/// that are not UTF-8.
private func referenceDecode(_ component: [UInt8], plusIsSpace: Bool) -> String? {
    var out: [UInt8] = []
    var index = 0
    while index < component.count {
        let byte = component[index]
        if byte == 0x25 { // '%'
            guard index + 2 < component.count,
                  let high = hexDigit(component[index + 1]), let low = hexDigit(component[index + 2])
            else { return nil }
            out.append(high * 16 + low)
            index += 3
        } else {
            out.append(byte == 0x2B && plusIsSpace ? 0x20 : byte)
            index += 1
        }
    }
    return String(validating: out, as: UTF8.self)
}

/// The standard library's radix parser on a single character: a second
/// opinion on which bytes are hex digits.
private func hexDigit(_ byte: UInt8) -> UInt8? {
    guard byte < 0x80 else { return nil }
    return UInt8(String(Unicode.Scalar(byte)), radix: 16)
}

private func checkAgainstReference(_ parsed: QueryParameters?, _ query: Substring) {
    var expected: [(String, String)] = []
    var wellFormed = true
    for segment in Array(query.utf8).split(separator: 0x26, omittingEmptySubsequences: true) { // '&'
        let equals = segment.firstIndex(of: 0x3D) // '='
        let name = Array(segment[segment.startIndex..<(equals ?? segment.endIndex)])
        let value = equals.map { Array(segment[($0 + 1)...]) } ?? []
        guard let decodedName = referenceDecode(name, plusIsSpace: true),
              let decodedValue = referenceDecode(value, plusIsSpace: true)
        else {
            wellFormed = false
            break
        }
        expected.append((decodedName, decodedValue))
    }
    guard let parsed else {
        require(!wellFormed, "a well-formed query was refused: \(Array(query.utf8))")
        return
    }
    require(wellFormed, "a malformed query was accepted: \(Array(query.utf8))")
    require(parsed.pairs.count == expected.count, "pair count \(parsed.pairs.count), expected \(expected.count)")
    for (pair, reference) in zip(parsed.pairs, expected) {
        require(pair.name == reference.0 && pair.value == reference.1,
                "pair \(pair) differs from the reference \(reference)")
        // Byte-level equality too: String == compares canonical equivalence.
        require(Array(pair.name.utf8) == Array(reference.0.utf8) && Array(pair.value.utf8) == Array(reference.1.utf8),
                "pair \(pair) differs from the reference in its bytes")
    }
}

/// The path is everything before the first '?' byte, the query everything after it.
private func checkSplit(_ split: (path: Substring, query: Substring?), bytes: [UInt8]) {
    let mark = bytes.firstIndex(of: 0x3F)
    require(Array(split.path.utf8) == Array(bytes[..<(mark ?? bytes.endIndex)]), "path split wrongly: \(bytes)")
    require(split.query.map { Array($0.utf8) } == mark.map { Array(bytes[($0 + 1)...]) }, "query split wrongly: \(bytes)")
}

private func checkPath(_ path: Substring) {
    let decoded = percentDecode(path)
    let reference = referenceDecode(Array(path.utf8), plusIsSpace: false)
    require(decoded.map { Array($0.utf8) } == reference.map { Array($0.utf8) },
            "path \(Array(path.utf8)) decoded to \(String(describing: decoded)), reference \(String(describing: reference))")
}

// MARK: Round trip

/// Every byte outside the unreserved set as %XX, '+' included.
private func encode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E:
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16, uppercase: true)
            out += "%" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return out
}

private func checkRoundTrip(_ parsed: QueryParameters) {
    let text = parsed.pairs.map { encode($0.name) + "=" + encode($0.value) }.joined(separator: "&")
    guard let again = QueryParameters(parsing: Substring(text)) else {
        fatalError("invariant broken: re-encoded query \(text) does not parse")
    }
    require(again.pairs.count == parsed.pairs.count, "round trip changed the pair count: \(text)")
    for (first, second) in zip(parsed.pairs, again.pairs) {
        require(Array(first.name.utf8) == Array(second.name.utf8) && Array(first.value.utf8) == Array(second.value.utf8),
                "round trip changed \(first) into \(second)")
    }
}

// MARK: Typed readers

private func checkArguments(_ parsed: QueryParameters) {
    var request = HTTPRequest()
    request.query = parsed
    let arguments = QueryArguments(request)
    // The first pair decides what the subscript returns for each name.
    var seen: Set<String> = []
    for pair in parsed.pairs where seen.insert(pair.name).inserted {
        let value = pair.value
        do {
            let number = try arguments.integer(pair.name, default: 7, in: -1_000_000...1_000_000)
            require(Int64(value) == number, "integer \(number) read from \(value)")
        } catch {
            require(error.status == 400, "integer refused with \(error.status)")
            require(Int64(value).map { !(-1_000_000...1_000_000).contains($0) } ?? true, "integer \(value) refused")
        }
        do {
            let text = try arguments.optionalString(pair.name)
            require(text.map { Array($0.utf8) } == Array(value.utf8), "string \(String(describing: text)) read from \(value)")
            require(!value.utf8.contains(0), "a NUL was let through")
        } catch {
            require(error.status == 400 && (value.isEmpty || value.utf8.contains(0)), "string \(value) refused")
        }
        do {
            if let stamp = try arguments.timestamp(pair.name) {
                checkNormalised(stamp)
            } else {
                fatalError("invariant broken: timestamp of a present parameter read as absent")
            }
        } catch {
            require(error.status == 400 && APITime.normalise(value) == nil, "timestamp \(value) refused")
        }
    }
    // Any name can come in percent-encoded, so find one the query lacks.
    var absent = "absent"
    while parsed[absent] != nil { absent += "_" }
    require((try? arguments.integer(absent, default: 7, in: 0...9)) == 7, "absent integer lost its default")
}

private func checkNormalised(_ stamp: String) {
    require(stamp.utf8.count == 26, "normalised timestamp \(stamp) is not 26 characters")
    require(APITime.normalise(stamp) == stamp, "normalising \(stamp) changed it")
}

private func checkTimestamp(_ text: String) {
    if let stamp = APITime.normalise(text) { checkNormalised(stamp) }
}
