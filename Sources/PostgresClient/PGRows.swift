import CLibPQ

/// A statement's result copied out of its PGresult, so the PGresult is
/// cleared at once. Values are in text format, kept back to back in one
/// byte array: a result costs three allocations whatever its size, and a
/// String is made only for a value that is read.
package struct PGRows {
    package let columnNames: [String]
    /// Number of rows.
    package let count: Int
    /// The row count of INSERT, UPDATE, DELETE, SELECT, … (PQcmdTuples);
    /// 0 for commands that report none.
    package let affectedRows: Int
    private let bytes: [UInt8]
    /// Row by row, one per value.
    private let cells: [Cell]

    private struct Cell {
        let start: Int
        /// -1 for NULL.
        let length: Int
    }

    init(_ result: OpaquePointer) {
        let rows = Int(PQntuples(result)), columns = Int(PQnfields(result))
        columnNames = (0..<columns).map { String(cString: PQfname(result, Int32($0))) }
        count = rows
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
        var cells: [Cell] = []
        cells.reserveCapacity(rows * columns)
        var total = 0
        for row in 0..<Int32(rows) {
            for column in 0..<Int32(columns) {
                if PQgetisnull(result, row, column) != 0 {
                    cells.append(Cell(start: total, length: -1))
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    cells.append(Cell(start: total, length: length))
                    total += length
                }
            }
        }
        // No bytes (an INSERT, or only NULLs and empty strings): the empty
        // array as is. Array(unsafeUninitializedCapacity: 0) stores its count
        // into the runtime's one shared empty buffer, a write two event-loop
        // threads would race on (ThreadSanitizer reports it).
        guard total > 0 else {
            bytes = []
            self.cells = cells
            return
        }
        bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            var index = 0
            for row in 0..<Int32(rows) {
                for column in 0..<Int32(columns) {
                    let cell = cells[index]
                    index += 1
                    guard cell.length > 0, let base = buffer.baseAddress,
                          let value = PQgetvalue(result, row, column) else { continue }
                    UnsafeMutableRawPointer(base + cell.start).copyMemory(from: value, byteCount: cell.length)
                }
            }
            initialized = total
        }
        self.cells = cells
    }

    /// Rows built in Swift (for tests of code that consumes results).
    init(columnNames: [String], rows: [[String?]], affectedRows: Int = 0) {
        self.columnNames = columnNames
        count = rows.count
        self.affectedRows = affectedRows
        var bytes: [UInt8] = []
        var cells: [Cell] = []
        for row in rows {
            precondition(row.count == columnNames.count, "every row needs one value per column")
            for value in row {
                guard let value else {
                    cells.append(Cell(start: bytes.count, length: -1))
                    continue
                }
                cells.append(Cell(start: bytes.count, length: value.utf8.count))
                bytes.append(contentsOf: value.utf8)
            }
        }
        self.bytes = bytes
        self.cells = cells
    }

    /// The value in text format; nil for NULL or a row or column that does
    /// not exist.
    package func string(_ row: Int, _ column: Int) -> String? {
        guard row >= 0, row < count, column >= 0, column < columnNames.count else { return nil }
        let cell = cells[row * columnNames.count + column]
        guard cell.length >= 0 else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            String(decoding: UnsafeBufferPointer(rebasing: buffer[cell.start..<cell.start + cell.length]), as: UTF8.self)
        }
    }

    /// The value as a decimal integer, read from the bytes without making a
    /// String; nil for NULL, a missing cell, or text that is not an Int64.
    package func int64(_ row: Int, _ column: Int) -> Int64? {
        guard row >= 0, row < count, column >= 0, column < columnNames.count else { return nil }
        let cell = cells[row * columnNames.count + column]
        guard cell.length > 0 else { return nil }
        return bytes.withUnsafeBufferPointer { buffer -> Int64? in
            var index = cell.start
            let end = cell.start + cell.length
            let negative = buffer[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            guard index < end else { return nil }
            var value: Int64 = 0
            while index < end {
                let digit = Int64(buffer[index]) - 48
                guard digit >= 0, digit <= 9 else { return nil }
                let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (added, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
                guard !overflow1, !overflow2 else { return nil }
                value = added
                index += 1
            }
            return value
        }
    }

    /// The value of the first column called `name`.
    package func string(_ row: Int, _ name: String) -> String? {
        guard let column = columnNames.firstIndex(of: name) else { return nil }
        return string(row, column)
    }
}
