// NumPy's .npy format (version 1.0) for Float32 and Int32 arrays: what users load with numpy.load.
//
// A file is the magic "\x93NUMPY", the version (1, 0), a little-endian UInt16 header
// length, the header — a Python dict literal {'descr': '<f4', 'fortran_order': False,
// 'shape': (…), } padded with spaces and a newline to a multiple of 64 bytes — then the
// data, C order, little-endian.
import Foundation
import PhalanxCore

/// Writes tensors as .npy files.
public enum NumPy {
    /// The .npy bytes of `tensor` (float32, its shape).
    public static func encode(_ tensor: Tensor) -> Data {
        encode(descr: "<f4", shape: tensor.shape, UnsafeRawBufferPointer(UnsafeBufferPointer(start: tensor.data, count: tensor.count)))
    }

    /// The .npy bytes of int32 `values` of `shape` (class labels, cluster assignments).
    public static func encode(_ values: [Int32], shape: [Int]) -> Data {
        precondition(values.count == shape.reduce(1, *), "NumPy.encode: \(values.count) values for shape \(shape)")
        return values.withUnsafeBytes { encode(descr: "<i4", shape: shape, $0) }
    }

    private static func encode(descr: String, shape: [Int], _ bytes: UnsafeRawBufferPointer) -> Data {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        out.append(contentsOf: Array(header.utf8))
        out.append(contentsOf: bytes)
        return out
    }

    /// Writes `tensor` to `path` (replacing it).
    public static func write(_ tensor: Tensor, to path: String) throws {
        try write(encode(tensor), to: path)
    }

    /// Writes int32 `values` of `shape` to `path` (replacing it).
    public static func write(_ values: [Int32], shape: [Int], to path: String) throws {
        try write(encode(values, shape: shape), to: path)
    }

    private static func write(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError.invalidSetting(setting: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
