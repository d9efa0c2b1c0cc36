// Numeric tables in CSV files: a header row naming the columns, then one sample a row;
// every column but the label column is a feature. Cells may be quoted ("a, b", "" for a
// quote); blank lines are skipped; a UTF-8 byte-order mark is dropped. Features become
// samples of shape [F, 1, 1] — one channel per column, so `normalize: standardize`
// standardises each column, as scikit-learn's StandardScaler does. Row numbers in errors
// count the header as row 1, as a spreadsheet shows them.
import Foundation
import PhalanxCore

/// Reads labelled numeric tables.
public enum CSV {
    /// A table: features `[N, F, 1, 1]`, labels, and the feature columns' names.
    public struct Table {
        public let features: Tensor
        public let labels: [Int32]
        public let columns: [String]
    }

    /// Reads `path`: a header, then rows of numbers; `labelColumn` holds class indices.
    /// With `columns` (the training file's), the header must name the same feature columns.
    public static func read(_ path: String, labelColumn: String, delimiter: UInt8 = UInt8(ascii: ","),
                            columns expected: (names: [String], path: String)? = nil) throws(DataError) -> Table {
        let bytes = try mapFile(path)
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(DataError) -> Table in
                try parse(raw.bindMemory(to: UInt8.self), path: path, labelColumn: labelColumn, delimiter: delimiter,
                          columns: expected)
            }
        }
        return try result.get()
    }

    private static func parse(_ raw: UnsafeBufferPointer<UInt8>, path: String, labelColumn: String, delimiter: UInt8,
                              columns expected: (names: [String], path: String)?) throws(DataError) -> Table {
        var reader = CSVReader(bytes: raw, delimiter: delimiter, path: path)
        guard let header = try reader.nextRow() else {
            throw .malformed(path: path, entry: nil, reason: "the file is empty; a header row naming the columns comes first")
        }
        let names = header.map { reader.text($0).trimmingCharacters(in: .whitespaces) }
        guard let labelIndex = names.firstIndex(of: labelColumn) else {
            throw .missingColumn(path: path, column: labelColumn, header: names)
        }
        let featureNames = names.enumerated().filter { $0.offset != labelIndex }.map(\.element)
        guard !featureNames.isEmpty else {
            throw .malformed(path: path, entry: nil, reason: "no feature columns besides the label column '\(labelColumn)'")
        }
        if let expected, expected.names != featureNames {
            throw .columnMismatch(path: path, found: featureNames, expected: expected.names, expectedPath: expected.path)
        }
        var values: [Float] = []
        var labels: [Int32] = []
        var scratch = [CChar](repeating: 0, count: 128)
        while let row = try reader.nextRow() {
            guard row.count == names.count else {
                throw .raggedRow(path: path, row: reader.row, found: row.count, expected: names.count)
            }
            for (c, cell) in row.enumerated() {
                guard let v = reader.number(cell, scratch: &scratch), v.isFinite else {
                    let text = reader.text(cell)
                    if c == labelIndex { throw .badLabel(path: path, position: "row \(reader.row)", value: text) }
                    throw .notNumeric(path: path, row: reader.row, column: names[c], value: text)
                }
                if c == labelIndex {
                    guard v >= 0, v == v.rounded(), v <= Double(Int32.max) else {
                        throw .badLabel(path: path, position: "row \(reader.row)", value: reader.text(cell))
                    }
                    labels.append(Int32(v))
                } else {
                    values.append(Float(v))
                }
            }
        }
        guard !labels.isEmpty else { throw .malformed(path: path, entry: nil, reason: "a header but no rows") }
        let features = Tensor(shape: [labels.count, featureNames.count, 1, 1])
        values.withUnsafeBufferPointer { features.data.update(from: $0.baseAddress!, count: $0.count) }
        return Table(features: features, labels: labels, columns: featureNames)
    }
}

/// Splits CSV bytes into rows of cells (byte ranges), one row at a time.
struct CSVReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let delimiter: UInt8
    let path: String
    var position = 0
    /// The 1-based line number of the row last returned.
    private(set) var row = 0
    private var line = 1

    init(bytes: UnsafeBufferPointer<UInt8>, delimiter: UInt8, path: String) {
        self.bytes = bytes; self.delimiter = delimiter; self.path = path
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
    }

    /// One cell: its bytes, and whether it was quoted (its quotes doubled inside).
    struct Cell { var range: Range<Int>; var quoted: Bool }

    /// The next non-blank row, or nil at the end of the file.
    mutating func nextRow() throws(DataError) -> [Cell]? {
        let quote = UInt8(ascii: "\""), newline = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        while position < bytes.count {
            row = line
            var cells: [Cell] = []
            var blank = true
            while true {
                // One cell.
                var cell = Cell(range: position..<position, quoted: false)
                if position < bytes.count && bytes[position] == quote {
                    cell.quoted = true
                    blank = false
                    position += 1
                    let start = position
                    while true {
                        guard position < bytes.count else {
                            throw .malformed(path: path, entry: nil, reason: "row \(row): a quoted cell is never closed")
                        }
                        if bytes[position] == newline { line += 1 }
                        if bytes[position] == quote {
                            if position + 1 < bytes.count && bytes[position + 1] == quote { position += 2; continue }
                            break
                        }
                        position += 1
                    }
                    cell.range = start..<position
                    position += 1
                    while position < bytes.count, bytes[position] == UInt8(ascii: " ") { position += 1 }
                } else {
                    let start = position
                    while position < bytes.count, bytes[position] != delimiter, bytes[position] != newline { position += 1 }
                    var end = position
                    if end > start && bytes[end - 1] == cr { end -= 1 }
                    cell.range = start..<end
                    if end > start { blank = false }
                }
                cells.append(cell)
                if position < bytes.count && bytes[position] == delimiter { position += 1; blank = false; continue }
                if position < bytes.count && bytes[position] == cr { position += 1 }
                if position < bytes.count && bytes[position] != newline {
                    throw .malformed(path: path, entry: nil, reason: "row \(row): text after a closing quote")
                }
                position += 1
                line += 1
                break
            }
            if !blank { return cells }
        }
        return nil
    }

    /// A cell's text, for messages and the header (doubled quotes undone).
    func text(_ cell: Cell) -> String {
        let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[cell.range]), as: UTF8.self)
        return cell.quoted ? s.replacingOccurrences(of: "\"\"", with: "\"") : s
    }

    /// A cell as a number (surrounding spaces allowed), or nil; parsed by `strtod` in
    /// `scratch` without allocating.
    func number(_ cell: Cell, scratch: inout [CChar]) -> Double? {
        var lo = cell.range.lowerBound, hi = cell.range.upperBound
        while lo < hi, bytes[lo] == UInt8(ascii: " ") || bytes[lo] == UInt8(ascii: "\t") { lo += 1 }
        while hi > lo, bytes[hi - 1] == UInt8(ascii: " ") || bytes[hi - 1] == UInt8(ascii: "\t") { hi -= 1 }
        let n = hi - lo
        guard n > 0, n < scratch.count else { return nil }
        return scratch.withUnsafeMutableBufferPointer { s -> Double? in
            for k in 0..<n { s[k] = CChar(bitPattern: bytes[lo + k]) }
            s[n] = 0
            var end: UnsafeMutablePointer<CChar>?
            let v = strtod(s.baseAddress!, &end)
            return end == s.baseAddress! + n ? v : nil
        }
    }
}
