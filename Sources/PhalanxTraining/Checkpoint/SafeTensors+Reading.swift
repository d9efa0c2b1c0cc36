// Reading safetensors files, checked: every way a file can be short, malformed or
// inconsistent is a `CheckpointError` naming the file and the fault, never a crash.
//
// As in the reference implementation, the tensors must tile the data section
// exactly: no overlaps, no gaps, no trailing bytes.
import Foundation
import PhalanxCore

/// Where one tensor lies in the data section, as the header says.
struct SafeTensorsSlot {
    var name: String
    var dtype: SafeTensorsDType
    var shape: [Int]
    var begin: Int
    var end: Int
}

extension SafeTensors {
    /// Reads and checks the safetensors file at `url`.
    public static func read(from url: URL) throws(CheckpointError) -> SafeTensors {
        try SafeTensors(bytes: DurableFile.readAll(url), file: url.path)
    }

    /// Parses and checks the bytes of a safetensors file; `file` names it in errors.
    public init(bytes: [UInt8], file: String) throws(CheckpointError) {
        let (slots, metadata, dataStart) = try Self.parseHeader(bytes, file: file)
        var entries: [String: Entry] = [:]
        bytes.withUnsafeBytes { raw in
            for slot in slots {
                let tensor = Tensor(shape: slot.shape)
                decode(raw.baseAddress! + dataStart + slot.begin, as: slot.dtype, count: tensor.count, into: tensor.data)
                entries[slot.name] = Entry(tensor, dtype: slot.dtype)
            }
        }
        self.init(entries: entries, metadata: metadata)
    }

    /// Decodes and checks the header of `bytes`: the tensors' slots (checked against
    /// each other and the file's length), the metadata, and where the data begins.
    static func parseHeader(_ bytes: [UInt8], file: String) throws(CheckpointError)
        -> (slots: [SafeTensorsSlot], metadata: [String: String], dataStart: Int)
    {
        func fail(_ fault: CheckpointError.Fault) -> CheckpointError { CheckpointError(file: file, fault) }

        guard bytes.count >= 8 else { throw fail(.fileTooShort(size: bytes.count)) }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail(.headerLengthBeyondFile(headerLength: headerLength, fileSize: bytes.count))
        }
        let dataStart = 8 + Int(headerLength)
        let json = Data(bytes[8..<dataStart])
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json)
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw fail(.headerNotJSON(reason ?? "\(error)"))
        }
        guard object is [String: Any] else { throw fail(.headerNotJSON("the top level is not an object")) }
        let header: RawHeader
        do {
            header = try JSONDecoder().decode(RawHeader.self, from: json)
        } catch {
            // The decoder reports a fraction where an integer belongs as corrupt data, pathless.
            var reason = decodingReason(error)
            if case .dataCorrupted(let context)? = error as? DecodingError, context.codingPath.isEmpty {
                reason = "shape and data_offsets must hold integers"
            }
            throw fail(.malformedHeader(reason))
        }
        var slots: [SafeTensorsSlot] = []
        for (name, info) in header.tensors {
            slots.append(try checkedSlot(name: name, info, file: file))
        }

        // The slots must tile [0, data length) exactly.
        slots.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        var previous: String?
        for slot in slots {
            if slot.begin < cursor, let previous { throw fail(.overlappingOffsets(tensor: slot.name, other: previous)) }
            if slot.begin > cursor { throw fail(.unusedBytes(begin: cursor, end: slot.begin)) }
            cursor = slot.end
            previous = slot.name
        }
        let dataLength = bytes.count - dataStart
        if cursor > dataLength { throw fail(.truncatedData(expected: cursor, actual: dataLength)) }
        if cursor < dataLength { throw fail(.unusedBytes(begin: cursor, end: dataLength)) }
        return (slots, header.metadata, dataStart)
    }

    /// One tensor's header entry, checked on its own.
    private static func checkedSlot(name: String, _ info: RawHeader.Info, file: String) throws(CheckpointError)
        -> SafeTensorsSlot
    {
        func fail(_ fault: CheckpointError.Fault) -> CheckpointError { CheckpointError(file: file, fault) }
        guard let dtype = SafeTensorsDType(rawValue: info.dtype) else {
            throw fail(.unknownDType(tensor: name, dtype: info.dtype))
        }
        guard info.shape.allSatisfy({ $0 >= 0 }) else {
            throw fail(.malformedHeader("tensor '\(name)' has a negative extent in shape \(info.shape)"))
        }
        guard info.dataOffsets.count == 2 else {
            throw fail(.malformedHeader("tensor '\(name)' has \(info.dataOffsets.count) data_offsets, not 2"))
        }
        let (begin, end) = (info.dataOffsets[0], info.dataOffsets[1])
        guard begin >= 0, end >= begin else { throw fail(.offsetsOutOfRange(tensor: name, begin: begin, end: end)) }
        var bytes = dtype.byteSize
        for extent in info.shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: extent)
            bytes = overflow ? -1 : product
            if overflow { break }
        }
        guard bytes == end - begin else {
            throw fail(.sizeMismatch(tensor: name, dtype: info.dtype, shape: info.shape, bytes: end - begin))
        }
        return SafeTensorsSlot(name: name, dtype: dtype, shape: info.shape, begin: begin, end: end)
    }
}

/// A safetensors header as JSON has it: metadata and the tensors' entries, unchecked.
struct RawHeader: Decodable {
    struct Info: Decodable {
        var dtype: String
        var shape: [Int]
        var dataOffsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var metadata: [String: String] = [:]
    var tensors: [(name: String, info: Info)] = []

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if key.stringValue == SafeTensors.metadataKey {
                metadata = try container.decode([String: String].self, forKey: key)
            } else {
                tensors.append((key.stringValue, try container.decode(Info.self, forKey: key)))
            }
        }
    }
}
