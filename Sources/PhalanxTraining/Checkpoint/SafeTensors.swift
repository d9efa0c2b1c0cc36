// SafeTensors: Hugging Face's tensor file format, read and written without Python.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON header padded with
// spaces to a multiple of 8, then the tensors' bytes, little-endian and contiguous.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)}
// (offsets into the bytes after the header) and may hold a "__metadata__" map of
// strings. Tensors are written sorted by name, metadata keys sorted too, which for
// one dtype gives the same bytes as the reference `safetensors` library.
// Phalanx keeps every tensor as Float; F32 and I64 are the stored types that matter
// (I64 for batch-norm's num_batches_tracked), F64, F16 and BF16 convert as well.
// Not supported: the integer types other than I64, BOOL and the 8-bit floats.
import Foundation
import PhalanxCore

#if !_endian(little)
#error("SafeTensors copies tensor bytes as they are: the host must be little-endian")
#endif

/// An element type of a safetensors file.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case i64 = "I64"
    case f64 = "F64"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32: 4
        case .i64, .f64: 8
        case .f16, .bf16: 2
        }
    }
}

/// The contents of a safetensors file: named tensors, each with the element type it
/// has on disk, and a metadata map of strings.
public struct SafeTensors: Sendable {
    /// One tensor and its element type on disk.
    public struct Entry: Sendable {
        /// The values, converted to Float.
        public var tensor: Tensor
        /// The type the values have (or will have) in the file.
        public var dtype: SafeTensorsDType

        /// A tensor stored as `dtype` (F32 unless said otherwise).
        public init(_ tensor: Tensor, dtype: SafeTensorsDType = .f32) {
            self.tensor = tensor
            self.dtype = dtype
        }
    }

    /// The header key reserved for metadata.
    public static let metadataKey = "__metadata__"

    /// The tensors by name.
    public var entries: [String: Entry]
    /// The `__metadata__` map.
    public var metadata: [String: String]

    /// A file's contents from entries and metadata.
    public init(entries: [String: Entry] = [:], metadata: [String: String] = [:]) {
        self.entries = entries
        self.metadata = metadata
    }

    /// Float tensors, all stored as F32.
    public init(tensors: [String: Tensor], metadata: [String: String] = [:]) {
        self.init(entries: tensors.mapValues { Entry($0) }, metadata: metadata)
    }

    /// The tensor called `name`, if any.
    public subscript(name: String) -> Tensor? { entries[name]?.tensor }

    /// The tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// The total number of elements over all tensors.
    public var elementCount: Int { entries.values.reduce(0) { $0 + $1.tensor.count } }

    /// The file's bytes: header length, padded header, tensor data sorted by name.
    /// `file` names the destination in errors (an I64 tensor holding 0.5, say).
    public func serialized(file: String = "<memory>") throws(CheckpointError) -> [UInt8] {
        let names = self.names
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { jsonQuoted($0) + ":" + jsonQuoted(metadata[$0]!) }
            fields.append(jsonQuoted(Self.metadataKey) + ":{" + pairs.joined(separator: ",") + "}")
        }
        var dataSize = 0
        for name in names {
            guard name != Self.metadataKey else {
                throw CheckpointError(file: file, .malformedHeader("'\(name)' cannot name a tensor"))
            }
            let entry = entries[name]!
            let size = entry.tensor.count * entry.dtype.byteSize
            let shape = entry.tensor.shape.map(String.init).joined(separator: ",")
            fields.append(jsonQuoted(name) + ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],"
                          + "\"data_offsets\":[\(dataSize),\(dataSize + size)]}")
            dataSize += size
        }
        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))

        var bytes = [UInt8](repeating: 0, count: 8 + header.count + dataSize)
        var failure: CheckpointError?
        bytes.withUnsafeMutableBytes { out in
            out.storeBytes(of: UInt64(header.count).littleEndian, toByteOffset: 0, as: UInt64.self)
            header.withUnsafeBytes { out.baseAddress!.advanced(by: 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            var offset = 8 + header.count
            for name in names {
                let entry = entries[name]!
                do throws(CheckpointError) {
                    try encode(entry.tensor, as: entry.dtype, into: out.baseAddress! + offset, name: name, file: file)
                } catch {
                    failure = error
                    return
                }
                offset += entry.tensor.count * entry.dtype.byteSize
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Writes the file atomically (temporary sibling, fsync, rename).
    public func write(to url: URL) throws(CheckpointError) {
        try DurableFile.writeAtomically(serialized(file: url.path), to: url)
    }
}

/// Stores `tensor`'s elements at `destination` as `dtype`, little-endian.
private func encode(_ tensor: Tensor, as dtype: SafeTensorsDType, into destination: UnsafeMutableRawPointer,
                    name: String, file: String) throws(CheckpointError) {
    let source = tensor.data
    let n = tensor.count
    switch dtype {
    case .f32:
        destination.copyMemory(from: source, byteCount: n * 4)
    case .i64:
        for i in 0..<n {
            guard let value = Int64(exactly: source[i]) else {
                throw CheckpointError(file: file, .notRepresentable(
                    tensor: name, "element \(i) is \(source[i]), not an integer that fits I64"))
            }
            destination.storeBytes(of: value.littleEndian, toByteOffset: i * 8, as: Int64.self)
        }
    case .f64:
        for i in 0..<n { destination.storeBytes(of: Double(source[i]), toByteOffset: i * 8, as: Double.self) }
    case .f16:
        for i in 0..<n { destination.storeBytes(of: Float16(source[i]).bitPattern, toByteOffset: i * 2, as: UInt16.self) }
    case .bf16:
        for i in 0..<n { destination.storeBytes(of: bfloat16Bits(source[i]), toByteOffset: i * 2, as: UInt16.self) }
    }
}

/// Reads `count` elements of `dtype` at `source` into `destination` as Float.
func decode(_ source: UnsafeRawPointer, as dtype: SafeTensorsDType, count n: Int,
            into destination: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32:
        UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: n * 4)
    case .i64:
        for i in 0..<n { destination[i] = Float(source.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
    case .f64:
        for i in 0..<n { destination[i] = Float(source.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
    case .f16:
        for i in 0..<n {
            destination[i] = Float(Float16(bitPattern: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
        }
    case .bf16:
        for i in 0..<n {
            let bits = UInt32(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
            destination[i] = Float(bitPattern: bits << 16)
        }
    }
}

/// The bfloat16 nearest to `value` (ties to even; NaN stays NaN).
private func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(bits >> 16) | 0x40 }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(rounded >> 16)
}

/// `s` as a JSON string literal, quotes included.
func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let digits = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
