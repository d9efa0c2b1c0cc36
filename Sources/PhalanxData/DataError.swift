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

    /// The file the error is about, if any (the images file for a count mismatch).
    public var path: String? {
        switch self {
        case .fileNotFound(let p), .unreadable(let p, _), .wrongMagic(let p, _, _),
             .unsupportedElementType(let p, _), .impossibleDimensions(let p, _, _),
             .truncated(let p, _, _, _), .trailingBytes(let p, _),
             .labelOutOfRange(let p, _, _, _), .cannotWrite(let p, _):
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
        }
    }
}

/// Formats a magic number as `0x00000803`.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
