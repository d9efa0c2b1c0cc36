// Errors a user can cause through data files and data settings.
//
// Every case that concerns a file carries its path, and every message says what was
// expected and what was found, so a bad download or a mistyped path in a config is
// diagnosed from the message alone.

/// A problem with a data file or a data setting, naming the file or the setting.
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No file at `path`.
    case fileNotFound(path: String)
    /// The file exists but cannot be opened or decompressed.
    case unreadable(path: String, reason: String)
    /// The IDX magic number is not the one this reader expects.
    case wrongMagic(path: String, expected: UInt32, found: UInt32)
    /// The IDX element type is valid but not supported (only unsigned bytes are).
    case unsupportedElementType(path: String, typeCode: UInt8)
    /// The dimensions in the header cannot describe a data set.
    case impossibleDimensions(path: String, dimensions: [Int], reason: String)
    /// The file ends early: `part` ("header", "pixel data", "labels") wanted
    /// `expectedBytes` bytes and only `foundBytes` were there.
    case truncated(path: String, part: String, expectedBytes: Int, foundBytes: Int)
    /// Bytes follow the data the header announces.
    case trailingBytes(path: String, count: Int)
    /// The images file and the labels file hold different numbers of samples.
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    /// A label at position `index` is not below the number of classes.
    case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
    /// A file cannot be written.
    case cannotWrite(path: String, reason: String)
    /// The global batch size cannot be shared equally between the ranks.
    case batchSizeNotDivisible(batchSize: Int, worldSize: Int)
    /// A sampler, split, loader or augmentation setting is out of range; `setting`
    /// names it as a config would.
    case invalidSetting(setting: String, reason: String)
    /// A file (or `entry` of an archive) is not what its format requires: a bad .npy
    /// header, a damaged zip directory, a CSV without a header.
    case malformed(path: String, entry: String?, reason: String)
    /// A .npy array holds an element type the reader does not take.
    case wrongDType(path: String, entry: String?, found: String, accepted: [String])
    /// A .npy array's shape is not what its role needs (`expected` in words).
    case wrongShape(path: String, entry: String?, found: [Int], expected: String)
    /// An .npz archive lacks the entry named by a setting.
    case missingEntry(path: String, entry: String, available: [String])
    /// A label is not a class index (a whole number ≥ 0); `position` is "row 7" or "index 7".
    case badLabel(path: String, position: String, value: String)
    /// A CSV cell that should hold a number does not (`row` 1-based, counting the header as row 1).
    case notNumeric(path: String, row: Int, column: String, value: String)
    /// A CSV row has another number of cells than the header.
    case raggedRow(path: String, row: Int, found: Int, expected: Int)
    /// A CSV header lacks the label column.
    case missingColumn(path: String, column: String, header: [String])
    /// A CSV's columns differ from the training file's.
    case columnMismatch(path: String, found: [String], expected: [String], expectedPath: String)
    /// An image folder's class subfolder (or the whole folder) holds no PNG or JPEG file.
    case emptyClass(path: String)
    /// An image file libpng or libjpeg cannot decode, with the library's reason.
    case undecodableImage(path: String, reason: String)
    /// An image whose size (`[height, width]`) differs from the data set's, set by `firstPath`.
    case imageSizeMismatch(path: String, found: [Int], expected: [Int], firstPath: String)

    /// The file the error is about, if any (the images file for a count mismatch).
    public var path: String? {
        switch self {
        case .fileNotFound(let p), .unreadable(let p, _), .wrongMagic(let p, _, _),
             .unsupportedElementType(let p, _), .impossibleDimensions(let p, _, _),
             .truncated(let p, _, _, _), .trailingBytes(let p, _),
             .labelOutOfRange(let p, _, _, _), .cannotWrite(let p, _),
             .malformed(let p, _, _), .wrongDType(let p, _, _, _), .wrongShape(let p, _, _, _),
             .missingEntry(let p, _, _), .badLabel(let p, _, _), .notNumeric(let p, _, _, _),
             .raggedRow(let p, _, _, _), .missingColumn(let p, _, _), .columnMismatch(let p, _, _, _),
             .emptyClass(let p), .undecodableImage(let p, _), .imageSizeMismatch(let p, _, _, _):
            return p
        case .countMismatch(let p, _, _, _):
            return p
        case .batchSizeNotDivisible, .invalidSetting:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file"
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .wrongMagic(let path, let expected, let found):
            return "\(path): wrong IDX magic number \(hex(found)) (\(IDXType.describe(magic: found))); "
                + "expected \(hex(expected)) (\(IDXType.describe(magic: expected)))"
        case .unsupportedElementType(let path, let code):
            return "\(path): IDX element type \(IDXType.name(code) ?? "unknown") (0x\(hex(UInt32(code)).suffix(2))) "
                + "is not supported; only unsigned bytes (0x08) are"
        case .impossibleDimensions(let path, let dims, let reason):
            return "\(path): impossible dimensions \(dims.map(String.init).joined(separator: "×")): \(reason)"
        case .truncated(let path, let part, let expected, let found):
            return "\(path): truncated \(part): expected \(expected) bytes, found \(found)"
        case .trailingBytes(let path, let count):
            return "\(path): \(count) trailing byte\(count == 1 ? "" : "s") after the data the header announces"
        case .countMismatch(let imagesPath, let images, let labelsPath, let labels):
            return "\(imagesPath) holds \(images) images but \(labelsPath) holds \(labels) labels"
        case .labelOutOfRange(let path, let index, let label, let classes):
            return "\(path): label \(label) at position \(index) is not below the number of classes (\(classes))"
        case .cannotWrite(let path, let reason):
            return "\(path): cannot write: \(reason)"
        case .batchSizeNotDivisible(let batch, let world):
            return "batch_size \(batch) is the global batch and must be divisible by the number of ranks (\(world)); "
                + "try \(max(world, batch / world * world)) or \((batch / world + 1) * world)"
        case .invalidSetting(let setting, let reason):
            return "\(setting): \(reason)"
        case .malformed(let path, let entry, let reason):
            return "\(place(path, entry)): \(reason)"
        case .wrongDType(let path, let entry, let found, let accepted):
            return "\(place(path, entry)): element type '\(found)' is not supported; this array may be "
                + accepted.joined(separator: ", ")
        case .wrongShape(let path, let entry, let found, let expected):
            return "\(place(path, entry)): shape (\(found.map(String.init).joined(separator: ", "))) is not \(expected)"
        case .missingEntry(let path, let entry, let available):
            return "\(path): no entry '\(entry)' in the archive; it holds "
                + (available.isEmpty ? "nothing" : available.map { "'\($0)'" }.joined(separator: ", "))
        case .badLabel(let path, let position, let value):
            return "\(path): label '\(value)' at \(position) is not a class index (a whole number, 0 or more)"
        case .notNumeric(let path, let row, let column, let value):
            return "\(path): row \(row), column '\(column)': '\(value)' is not a number"
        case .raggedRow(let path, let row, let found, let expected):
            return "\(path): row \(row) has \(found) cell\(found == 1 ? "" : "s") but the header has \(expected) columns"
        case .missingColumn(let path, let column, let header):
            return "\(path): no label column '\(column)' in the header (\(header.joined(separator: ", ")))"
        case .columnMismatch(let path, let found, let expected, let expectedPath):
            return "\(path): columns (\(found.joined(separator: ", "))) differ from those of \(expectedPath) "
                + "(\(expected.joined(separator: ", ")))"
        case .emptyClass(let path):
            return "\(path): no PNG or JPEG files (.png, .jpg, .jpeg) in this class folder"
        case .undecodableImage(let path, let reason):
            return "\(path): cannot decode the image: \(reason)"
        case .imageSizeMismatch(let path, let found, let expected, let first):
            return "\(path): the image is \(found.map(String.init).joined(separator: "×")) (height×width) but \(first) "
                + "is \(expected.map(String.init).joined(separator: "×")); every image of a data set must have one size"
        }
    }
}

/// A file, or an entry of an archive, for messages.
func place(_ path: String, _ entry: String?) -> String {
    entry.map { "\(path), entry '\($0)'" } ?? path
}

/// Formats a magic number as `0x00000803`.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
