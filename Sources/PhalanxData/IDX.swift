// IDX files (LeCun's MNIST format), plain or gzip-compressed.
//
// Layout: a 4-byte big-endian magic `0x0000TTDD` (TT the element type, DD the number of
// dimensions), DD big-endian UInt32 extents, then the elements row-major. Images are
// `0x00000803` (N × rows × cols unsigned bytes), labels `0x00000801` (N unsigned bytes).
// Only unsigned bytes are read; the other IDX element types are recognised and refused
// by name. Every fault is a `DataError` naming the file.
import PhalanxCore

/// The IDX element types, for messages.
enum IDXType {
    /// The name of an IDX element type code, or nil for a code IDX does not define.
    static func name(_ code: UInt8) -> String? {
        switch code {
        case 0x08: "unsigned byte"
        case 0x09: "signed byte"
        case 0x0B: "int16"
        case 0x0C: "int32"
        case 0x0D: "float32"
        case 0x0E: "float64"
        default: nil
        }
    }

    /// What a magic number announces, in words.
    static func describe(magic: UInt32) -> String {
        let type = UInt8((magic >> 8) & 0xFF), dims = Int(magic & 0xFF)
        guard magic >> 16 == 0, let name = name(type) else { return "not an IDX file" }
        let what = type == 0x08 && dims == 3 ? ", images" : type == 0x08 && dims == 1 ? ", labels" : ""
        return "\(name), \(dims) dimension\(dims == 1 ? "" : "s")\(what)"
    }
}

/// Reads and writes IDX files of unsigned bytes.
public enum IDX {
    /// The most elements a file may announce (2 GiB of bytes, 8 GiB as Float);
    /// larger counts come from damaged headers, not real data sets.
    public static let maxElements = 1 << 31

    /// Bytes converted per chunk while reading.
    static let chunkBytes = 1 << 20

    /// Reads an images file (`0x00000803`, N × rows × cols) as a Float tensor
    /// `[N, 1, rows, cols]` holding the raw byte values 0…255.
    public static func readImages(_ path: String) throws(DataError) -> Tensor {
        let reader = try GzipReader(path: path)
        let dims = try readHeader(reader, dimensions: 3)
        let bytes = try readPayload(reader, count: dims.reduce(1, *),
                                    part: "pixel data after the \(reader.offset)-byte header")
        try expectEnd(reader)
        let images = Tensor(shape: [dims[0], 1, dims[1], dims[2]])
        let out = images.data
        bytes.withUnsafeBufferPointer { b in
            Parallel.forEach(b.count, grain: 1 << 18) { r in
                for i in r { out[i] = Float(b[i]) }
            }
        }
        return images
    }

    /// Reads a labels file (`0x00000801`, N bytes). With `classCount`, every label must
    /// be below it.
    public static func readLabels(_ path: String, classCount: Int? = nil) throws(DataError) -> [Int32] {
        let reader = try GzipReader(path: path)
        let count = try readHeader(reader, dimensions: 1)[0]
        let bytes = try readPayload(reader, count: count, part: "labels after the 8-byte header")
        try expectEnd(reader)
        if let classCount, let bad = bytes.firstIndex(where: { Int($0) >= classCount }) {
            throw .labelOutOfRange(path: path, index: bad, label: Int(bytes[bad]), classCount: classCount)
        }
        return bytes.map { Int32($0) }
    }

    /// Writes `values` as an IDX file of unsigned bytes with the given extents,
    /// gzip-compressed unless `compressed` is false.
    public static func write(_ values: [UInt8], dimensions: [Int], to path: String,
                             compressed: Bool = true) throws(DataError) {
        precondition(dimensions.reduce(1, *) == values.count && dimensions.count < 256,
                     "IDX.write: \(values.count) values do not fill dimensions \(dimensions)")
        var bytes = bigEndian(0x0800 | UInt32(dimensions.count))
        for d in dimensions { bytes += bigEndian(UInt32(d)) }
        try Gzip.write(bytes + values, to: path, compressed: compressed)
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    /// Reads and checks the magic number and extents of an unsigned-byte IDX file with
    /// `dimensions` dimensions.
    static func readHeader(_ reader: GzipReader, dimensions: Int) throws(DataError) -> [Int] {
        let path = reader.path
        let headerBytes = 4 + 4 * dimensions
        var word = [UInt8](repeating: 0, count: 4)
        func readWord(_ found: Int) throws(DataError) -> UInt32 {
            try reader.readExactly(into: &word, count: 4, part: "header",
                                   expectedTotal: headerBytes, foundSoFar: found)
            return word.reduce(0) { $0 << 8 | UInt32($1) }
        }
        let expected: UInt32 = 0x0800 | UInt32(dimensions)
        let magic = try readWord(0)
        let type = UInt8((magic >> 8) & 0xFF)
        if magic >> 16 != 0 || IDXType.name(type) == nil {
            throw .wrongMagic(path: path, expected: expected, found: magic)
        }
        if type != 0x08 { throw .unsupportedElementType(path: path, typeCode: type) }
        if Int(magic & 0xFF) != dimensions { throw .wrongMagic(path: path, expected: expected, found: magic) }

        var dims: [Int] = []
        for i in 0..<dimensions { dims.append(Int(try readWord(4 + 4 * i))) }
        if let zero = dims.firstIndex(of: 0) {
            throw .impossibleDimensions(path: path, dimensions: dims, reason: "extent \(zero + 1) is zero")
        }
        var total = 1
        for d in dims {
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            if overflow {
                throw .impossibleDimensions(path: path, dimensions: dims, reason: "the element count overflows")
            }
            total = product
        }
        if total > maxElements {
            throw .impossibleDimensions(path: path, dimensions: dims,
                                        reason: "\(total) elements exceed the limit of \(maxElements); is the header damaged?")
        }
        return dims
    }

    /// Reads the `count` bytes after the header in chunks, so that a damaged header
    /// announcing far more than the file holds fails before any large allocation.
    static func readPayload(_ reader: GzipReader, count: Int, part: String) throws(DataError) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(min(count, 1 << 26))
        var chunk = [UInt8](repeating: 0, count: min(count, chunkBytes))
        while bytes.count < count {
            let n = min(chunk.count, count - bytes.count)
            let found = bytes.count
            try reader.readExactly(into: &chunk, count: n, part: part, expectedTotal: count, foundSoFar: found)
            bytes.append(contentsOf: chunk.prefix(n))
        }
        return bytes
    }

    /// Checks that nothing follows the data.
    static func expectEnd(_ reader: GzipReader) throws(DataError) {
        let extra = try reader.countRemaining()
        if extra > 0 { throw .trailingBytes(path: reader.path, count: extra) }
    }
}
