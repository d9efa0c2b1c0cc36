// Protocol-buffer wire format by hand: the one writer (and reader) behind TensorBoard's
// event files (Loop/TensorBoard/EventRecord.swift) and ONNX export (ONNXProto.swift).
//
// Four wire encodings cover every field either writes: varint (0), 64-bit (1),
// length-delimited (2: strings, bytes, nested messages) and 32-bit (5). Repeated
// scalars are written one key per element, the encoding proto2 files (onnx.proto)
// declare and every proto3 reader accepts. Why not swift-protobuf: see EventRecord.swift.

/// Encodes protocol-buffer fields into bytes.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    /// Wire types: varint 0, 64-bit 1, length-delimited 2, 32-bit 5.
    private mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    /// `int64` / `int32` / enums (a negative value takes ten bytes, as protobuf sign-extends it).
    mutating func int(_ field: Int, _ value: Int64) { key(field, 0); varint(UInt64(bitPattern: value)) }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A packed `repeated double` (proto3's default for repeated scalars).
    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        var packed: [UInt8] = []
        packed.reserveCapacity(8 * values.count)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { packed.append(contentsOf: $0) } }
        bytes(field, packed)
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) { key(field, 2); varint(UInt64(value.count)); bytes += value }

    mutating func string(_ field: Int, _ value: String) { self.bytes(field, Array(value.utf8)) }

    /// A nested message, encoded by `body`.
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        self.bytes(field, inner.bytes)
    }
}

/// Splits encoded protocol-buffer bytes back into fields (numbers and raw values).
enum ProtobufReader {
    /// A field's value as the wire carries it.
    enum Value: Equatable {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes(ArraySlice<UInt8>)
    }

    /// The fields of one message in order, or nil when the bytes are not well formed
    /// (a truncated varint or length, an unknown wire type).
    static func fields<C: Collection>(_ message: C) -> [(number: Int, value: Value)]? where C.Element == UInt8 {
        let b = Array(message)
        var i = 0, out: [(Int, Value)] = []
        func varint() -> UInt64? {
            var v: UInt64 = 0, shift: UInt64 = 0
            while i < b.count, shift < 64 {
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
            return nil
        }
        func fixed(_ n: Int) -> UInt64? {
            guard b.count - i >= n else { return nil }
            defer { i += n }
            return (0..<n).reduce(UInt64(0)) { $0 | UInt64(b[i + $1]) << (8 * UInt64($1)) }
        }
        while i < b.count {
            guard let key = varint() else { return nil }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: guard let v = varint() else { return nil }; out.append((number, .varint(v)))
            case 1: guard let v = fixed(8) else { return nil }; out.append((number, .fixed64(v)))
            case 5: guard let v = fixed(4) else { return nil }; out.append((number, .fixed32(UInt32(v))))
            case 2:
                guard let n = varint(), n <= UInt64(b.count - i) else { return nil }
                out.append((number, .bytes(b[i..<(i + Int(n))])))
                i += Int(n)
            default: return nil
            }
        }
        return out
    }
}
