// NumPy's .npy format (version 1.0) for Float32 arrays: what users load with numpy.load.
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
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        out.append(contentsOf: Array(header.utf8))
        out.append(UnsafeBufferPointer(start: tensor.data, count: tensor.count))
        return out
    }

    /// Writes `tensor` to `path` (replacing it).
    public static func write(_ tensor: Tensor, to path: String) throws {
        do {
            try encode(tensor).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError.invalidSetting(setting: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
