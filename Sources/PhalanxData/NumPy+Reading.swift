// Reading .npy arrays (versions 1.0, 2.0 and 3.0), alone or as entries of an .npz archive:
// images [N, H, W] or [N, C, H, W] of uint8 or float32, labels [N] of any integer type.
// The header's dict is parsed strictly; the payload's size is checked against the shape
// before anything is allocated, so a truncated file or one with trailing bytes is an
// error naming the file (and entry). Left out: Fortran order, big-endian and structured
// dtypes, object arrays (refused by name). Float images must be finite.
import Foundation
import PhalanxCore

/// Where an array lives: a .npy file, or an entry of an .npz archive.
public struct NumPySource: Equatable, Sendable, CustomStringConvertible {
    public var path: String
    /// The array's name inside an .npz archive (`x_train`); nil for a .npy file.
    public var entry: String?

    public init(path: String, entry: String? = nil) { self.path = path; self.entry = entry }

    public var description: String { place(path, entry) }
}

/// A parsed .npy header and where its data starts.
struct NumPyHeader: Equatable {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]
    /// Bytes before the data.
    var dataOffset: Int

    /// Bytes per element of the types this reader knows.
    static let itemSizes: [String: Int] = [
        "|u1": 1, "|i1": 1, "<u2": 2, "<i2": 2, "<u4": 4, "<i4": 4, "<u8": 8, "<i8": 8, "<f4": 4, "<f8": 8, "|b1": 1,
    ]
}

extension NumPy {
    /// The element types images may have.
    public static let imageTypes = ["|u1 (uint8)", "<f4 (float32)"]
    /// The element types labels may have.
    public static let labelTypes = ["|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8 (any little-endian integer)"]

    /// Reads images `[N, H, W]` (one channel) or `[N, C, H, W]` of uint8 or float32 as a
    /// Float tensor `[N, C, H, W]` of the stored values (uint8: 0…255, as IDX gives them).
    public static func readImages(_ source: NumPySource) throws(DataError) -> Tensor {
        let bytes = try load(source)
        let header = try parseHeader(bytes, source)
        let shape = header.shape
        guard shape.count == 3 || shape.count == 4, !shape.contains(0) else {
            throw .wrongShape(path: source.path, entry: source.entry, found: shape,
                              expected: "[N, H, W] or [N, C, H, W] images with no empty extent")
        }
        guard header.descr == "|u1" || header.descr == "<f4" else {
            throw .wrongDType(path: source.path, entry: source.entry, found: header.descr, accepted: imageTypes)
        }
        let count = try payloadCount(bytes, header, source)
        let images = Tensor(shape: shape.count == 3 ? [shape[0], 1, shape[1], shape[2]] : shape)
        let out = UncheckedSendable(images.data)
        bytes.withUnsafeBytes { raw in
            let payload = UnsafeRawBufferPointer(rebasing: raw[header.dataOffset...])
            if header.descr == "<f4" {
                UnsafeMutableRawPointer(out.value).copyMemory(from: payload.baseAddress!, byteCount: count * 4)
            } else {
                let b = payload.bindMemory(to: UInt8.self)
                Parallel.forEach(count, grain: 1 << 18) { r in
                    for i in r { out.value[i] = Float(b[i]) }
                }
            }
        }
        if header.descr == "<f4", let bad = (0..<count).first(where: { !images.data[$0].isFinite }) {
            throw .malformed(path: source.path, entry: source.entry,
                             reason: "element \(bad) is \(images.data[bad]); images must be finite")
        }
        return images
    }

    /// Reads labels `[N]` of any little-endian integer type as class indices; a negative
    /// label, or with `classCount` one not below it, is an error naming its index.
    public static func readLabels(_ source: NumPySource, classCount: Int? = nil) throws(DataError) -> [Int32] {
        let bytes = try load(source)
        let header = try parseHeader(bytes, source)
        guard header.shape.count == 1 else {
            throw .wrongShape(path: source.path, entry: source.entry, found: header.shape,
                              expected: "[N] labels, one class index per sample")
        }
        let d = header.descr
        guard d.count == 3, d.first == "|" || d.first == "<", "iu".contains(d[d.index(after: d.startIndex)]) else {
            throw .wrongDType(path: source.path, entry: source.entry, found: d, accepted: labelTypes)
        }
        let count = try payloadCount(bytes, header, source)
        let size = NumPyHeader.itemSizes[d]!, signed = d.contains("i")
        var labels = [Int32](repeating: 0, count: count)
        var bad: (Int, String)?
        bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress! + header.dataOffset
            for i in 0..<count {
                let v: Int64
                switch (size, signed) {
                case (1, false): v = Int64(p.load(fromByteOffset: i, as: UInt8.self))
                case (1, true): v = Int64(p.load(fromByteOffset: i, as: Int8.self))
                case (2, false): v = Int64(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                case (2, true): v = Int64(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case (4, false): v = Int64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case (4, true): v = Int64(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case (_, false):
                    let u = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    v = u > UInt64(Int32.max) ? -1 : Int64(u)
                default: v = Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                }
                guard v >= 0, v <= Int64(Int32.max) else { bad = (i, String(v)); return }
                labels[i] = Int32(v)
            }
        }
        let labelsPlace = source.entry.map { "\(source.path), entry '\($0)'" } ?? source.path
        if let (i, v) = bad { throw .badLabel(path: labelsPlace, position: "index \(i)", value: v) }
        if let classCount, let i = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw .labelOutOfRange(path: labelsPlace, index: i, label: Int(labels[i]), classCount: classCount)
        }
        return labels
    }

    /// The bytes of the .npy file, or of the .npz entry, `source` names.
    static func load(_ source: NumPySource) throws(DataError) -> Data {
        guard let entry = source.entry else { return try mapFile(source.path) }
        let archive = try ZipArchive(path: source.path)
        guard let e = archive.entry(entry) else {
            throw .missingEntry(path: source.path, entry: entry, available: archive.entries.map {
                $0.name.hasSuffix(".npy") ? String($0.name.dropLast(4)) : $0.name
            })
        }
        return try archive.contents(of: e)
    }

    /// The element count of `header`'s shape, once the bytes after the header are
    /// checked to hold exactly that many elements.
    static func payloadCount(_ bytes: Data, _ header: NumPyHeader, _ source: NumPySource) throws(DataError) -> Int {
        var count = 1
        for d in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= IDX.maxElements else {
                throw .wrongShape(path: source.path, entry: source.entry, found: header.shape,
                                  expected: "within the limit of \(IDX.maxElements) elements (is the header damaged?)")
            }
            count = product
        }
        let expected = count * NumPyHeader.itemSizes[header.descr]!
        let found = bytes.count - header.dataOffset
        let part = "array data after the \(header.dataOffset)-byte header"
            + (source.entry.map { " of entry '\($0)'" } ?? "")
        if found < expected { throw .truncated(path: source.path, part: part, expectedBytes: expected, foundBytes: found) }
        if found > expected { throw .trailingBytes(path: source.description, count: found - expected) }
        return count
    }

    /// Parses the magic, version and header dict of a .npy file.
    static func parseHeader(_ bytes: Data, _ source: NumPySource) throws(DataError) -> NumPyHeader {
        func bad(_ reason: String) -> DataError { .malformed(path: source.path, entry: source.entry, reason: reason) }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10 else {
            if bytes.starts(with: magic.prefix(bytes.count)) && !bytes.isEmpty || bytes.isEmpty {
                throw .truncated(path: source.path, part: "header" + (source.entry.map { " of entry '\($0)'" } ?? ""),
                                 expectedBytes: 10, foundBytes: bytes.count)
            }
            throw bad("not a .npy file (no \\x93NUMPY magic)")
        }
        guard bytes.starts(with: magic) else { throw bad("not a .npy file (no \\x93NUMPY magic)") }
        let major = bytes[bytes.startIndex + 6]
        let (lengthBytes, length): (Int, Int)
        switch major {
        case 1: (lengthBytes, length) = (2, Int(read16(bytes, 8)))
        case 2, 3: (lengthBytes, length) = (4, Int(read32(bytes, 8)))
        default: throw bad("format version \(major).\(bytes[bytes.startIndex + 7]) is not 1.0, 2.0 or 3.0")
        }
        let start = 8 + lengthBytes
        guard start + length <= bytes.count else {
            throw .truncated(path: source.path, part: "header" + (source.entry.map { " of entry '\($0)'" } ?? ""),
                             expectedBytes: start + length, foundBytes: bytes.count)
        }
        let text = String(decoding: bytes[(bytes.startIndex + start)..<(bytes.startIndex + start + length)], as: UTF8.self)
        var parser = HeaderParser(text: text)
        let dict: [String: HeaderParser.Value]
        do {
            dict = try parser.dictionary()
        } catch {
            throw bad("the header \(text.trimmingCharacters(in: .whitespacesAndNewlines)) is not a dict literal: \(error.reason)")
        }
        guard case .string(let descr)? = dict["descr"] else {
            throw bad(dict["descr"] == nil ? "the header has no 'descr'" : "'descr' is a structured type; only plain arrays are read")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else { throw bad("the header has no 'fortran_order' True/False") }
        guard case .tuple(let shape)? = dict["shape"] else { throw bad("the header has no 'shape' tuple") }
        if let extra = dict.keys.sorted().first(where: { !["descr", "fortran_order", "shape"].contains($0) }) {
            throw bad("unexpected key '\(extra)' in the header")
        }
        if fortran { throw bad("the array is in Fortran order; save it with numpy.ascontiguousarray") }
        if NumPyHeader.itemSizes[descr] == nil {
            throw .wrongDType(path: source.path, entry: source.entry, found: descr,
                              accepted: NumPy.imageTypes + ["or integer labels"])
        }
        return NumPyHeader(descr: descr, fortranOrder: fortran, shape: shape, dataOffset: start + length)
    }
}

/// A parser for the Python literal of a .npy header: `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
struct HeaderParser {
    enum Value: Equatable { case string(String), bool(Bool), tuple([Int]), other }
    struct Failure: Error { let reason: String }

    let scalars: [Unicode.Scalar]
    var i = 0

    init(text: String) { scalars = Array(text.unicodeScalars) }

    mutating func dictionary() throws(Failure) -> [String: Value] {
        try expect("{")
        var out: [String: Value] = [:]
        while true {
            skipSpace()
            if peek == "}" { i += 1; break }
            let key = try string()
            try expect(":")
            out[key] = try value()
            skipSpace()
            if peek == "," { i += 1; continue }
            try expect("}")
            break
        }
        skipSpace()
        guard i == scalars.count else { throw Failure(reason: "text after the closing brace") }
        return out
    }

    private var peek: Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

    private mutating func skipSpace() { while let c = peek, c.properties.isWhitespace { i += 1 } }

    private mutating func expect(_ c: Unicode.Scalar) throws(Failure) {
        skipSpace()
        guard peek == c else { throw Failure(reason: "expected '\(c)' at character \(i + 1)") }
        i += 1
    }

    private mutating func string() throws(Failure) -> String {
        skipSpace()
        guard let quote = peek, quote == "'" || quote == "\"" else { throw Failure(reason: "expected a quoted key at character \(i + 1)") }
        i += 1
        var s = ""
        while let c = peek, c != quote { s.unicodeScalars.append(c); i += 1 }
        guard peek == quote else { throw Failure(reason: "an unterminated string") }
        i += 1
        return s
    }

    private mutating func value() throws(Failure) -> Value {
        skipSpace()
        switch peek {
        case "'", "\"": return .string(try string())
        case "(":
            i += 1
            var dims: [Int] = []
            while true {
                skipSpace()
                if peek == ")" { i += 1; return .tuple(dims) }
                var digits = ""
                while let c = peek, ("0"..."9").contains(c) { digits.unicodeScalars.append(c); i += 1 }
                guard let d = Int(digits) else { throw Failure(reason: "expected a whole number in the shape at character \(i + 1)") }
                dims.append(d)
                skipSpace()
                if peek == "," { i += 1 } else if peek != ")" { throw Failure(reason: "expected ',' or ')' in the shape") }
            }
        case "[", "{":
            // A structured dtype: skip the balanced literal.
            var depth = 0
            repeat {
                if peek == "[" || peek == "{" || peek == "(" { depth += 1 }
                if peek == "]" || peek == "}" || peek == ")" { depth -= 1 }
                i += 1
            } while depth > 0 && i < scalars.count
            return .other
        default:
            var word = ""
            while let c = peek, c.properties.isAlphabetic { word.unicodeScalars.append(c); i += 1 }
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            default: throw Failure(reason: "unexpected value at character \(i + 1)")
            }
        }
    }
}
