// CheckpointError: every fault a user can meet reading or writing safetensors files
// and checkpoint directories, always with the file it concerns.

/// A checkpoint or safetensors file that cannot be read or written, with the file's
/// path and what is wrong with it.
public struct CheckpointError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Fault: Equatable, Sendable {
        /// The file (or directory) does not exist.
        case missing
        /// An operating-system call failed (`open`, `write`, `rename`, …).
        case io(String)
        /// A safetensors file shorter than its 8-byte header-length prefix.
        case fileTooShort(size: Int)
        /// The header length prefix points past the end of the file.
        case headerLengthBeyondFile(headerLength: UInt64, fileSize: Int)
        /// The header is not a JSON object.
        case headerNotJSON(String)
        /// The header is JSON but not a valid safetensors header.
        case malformedHeader(String)
        /// A tensor's dtype is not one this reader supports.
        case unknownDType(tensor: String, dtype: String)
        /// A tensor's shape and dtype need another byte count than its offsets give.
        case sizeMismatch(tensor: String, dtype: String, shape: [Int], bytes: Int)
        /// A tensor's offsets are negative or end before they begin.
        case offsetsOutOfRange(tensor: String, begin: Int, end: Int)
        /// Two tensors share bytes.
        case overlappingOffsets(tensor: String, other: String)
        /// Bytes of the data section that belong to no tensor.
        case unusedBytes(begin: Int, end: Int)
        /// The data section is shorter than the header says.
        case truncatedData(expected: Int, actual: Int)
        /// A value that cannot be stored in the requested dtype (`I64` from 0.5).
        case notRepresentable(tensor: String, String)
        /// A tensor the model needs is absent from the file.
        case missingTensor(String)
        /// The file holds a tensor the model does not have.
        case unexpectedTensor(String)
        /// A tensor's shape differs from the model's.
        case shapeMismatch(tensor: String, expected: [Int], found: [Int])
        /// The file's size differs from the one recorded when it was written.
        case sizeChanged(expected: Int, actual: Int)
        /// The file's CRC-32 differs from the one recorded when it was written.
        case checksumMismatch(expected: UInt32, actual: UInt32)
        /// A JSON file that cannot be encoded or decoded.
        case invalidJSON(String)
        /// No checkpoint in a directory could be loaded; lists what was skipped and why.
        case noUsableCheckpoint(skipped: [String])
    }

    /// The path of the file or directory concerned.
    public let file: String
    /// What is wrong with it.
    public let fault: Fault

    /// An error about `file`.
    public init(file: String, _ fault: Fault) {
        self.file = file
        self.fault = fault
    }

    public var description: String { "\(file): \(fault.message)" }
}

extension CheckpointError.Fault {
    /// A sentence describing the fault, without the file name.
    public var message: String {
        switch self {
        case .missing:
            return "no such file"
        case .io(let what):
            return what
        case .fileTooShort(let size):
            return "file has \(size) bytes, fewer than the 8-byte header length of a safetensors file"
        case .headerLengthBeyondFile(let n, let size):
            return "header length \(n) reaches beyond the end of the file (\(size) bytes)"
        case .headerNotJSON(let why):
            return "header is not a JSON object: \(why)"
        case .malformedHeader(let why):
            return "malformed safetensors header: \(why)"
        case .unknownDType(let tensor, let dtype):
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            return "tensor '\(tensor)' has dtype '\(dtype)', which Phalanx does not read (it reads \(known))"
        case .sizeMismatch(let tensor, let dtype, let shape, let bytes):
            return "tensor '\(tensor)' of dtype \(dtype) and shape \(shape) does not fill its \(bytes) bytes"
        case .offsetsOutOfRange(let tensor, let begin, let end):
            return "tensor '\(tensor)' has data offsets [\(begin), \(end)) out of range"
        case .overlappingOffsets(let tensor, let other):
            return "tensors '\(other)' and '\(tensor)' overlap"
        case .unusedBytes(let begin, let end):
            return "data bytes [\(begin), \(end)) belong to no tensor"
        case .truncatedData(let expected, let actual):
            return "data truncated: header describes \(expected) bytes of tensor data, file holds \(actual)"
        case .notRepresentable(let tensor, let why):
            return "tensor '\(tensor)': \(why)"
        case .missingTensor(let name):
            return "tensor '\(name)' is missing"
        case .unexpectedTensor(let name):
            return "unexpected tensor '\(name)' (the model has no tensor of that name)"
        case .shapeMismatch(let name, let expected, let found):
            return "tensor '\(name)' has shape \(found), the model expects \(expected)"
        case .sizeChanged(let expected, let actual):
            return "file has \(actual) bytes, \(expected) were written: truncated or replaced"
        case .checksumMismatch(let expected, let actual):
            return "CRC-32 is \(hex(actual)), \(hex(expected)) was written: the file is corrupted"
        case .invalidJSON(let why):
            return "invalid JSON: \(why)"
        case .noUsableCheckpoint(let skipped):
            return skipped.isEmpty
                ? "no checkpoint found"
                : "no usable checkpoint; skipped:\n  " + skipped.joined(separator: "\n  ")
        }
    }
}

/// `0x1234abcd`, eight hex digits.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
