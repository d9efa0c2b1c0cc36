// SafeTensors: round trips, the exact bytes of a small file (as the reference
// `safetensors` library writes it), and every malformed file named in its error.
import Foundation
import PhalanxCore
@testable import PhalanxTraining
import Testing

/// A fresh empty directory under the system's temporary directory.
private func scratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("phalanx-safetensors-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The bytes of a safetensors file with `header` (padded) followed by `dataBytes` zeros.
private func rawFile(header: String, dataBytes: Int) -> [UInt8] {
    var json = Array(header.utf8)
    json += repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8)
    return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + [UInt8](repeating: 0, count: dataBytes)
}

/// Writes `bytes` to a file, reads it back as safetensors and returns the error.
private func readError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> CheckpointError? {
    let url = try scratchDirectory().appendingPathComponent("bad.safetensors")
    try Data(bytes).write(to: url)
    do {
        _ = try SafeTensors.read(from: url)
        Issue.record("reading a malformed file succeeded", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.file == url.path, sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix(url.path + ": "), sourceLocation: sourceLocation)
        return error
    }
}

@Suite struct SafeTensorsTests {
    @Test func roundTripKeepsValuesDTypesAndMetadata() throws {
        let weight = Tensor(shape: [2, 3], values: [0.5, -1, 2, 1e-30, 3.25, -0])
        let count = Tensor(shape: [], values: [12345])
        let empty = Tensor(shape: [0, 4])
        let original = SafeTensors(entries: ["layer.weight": .init(weight), "bn.num_batches_tracked": .init(count, dtype: .i64),
                                             "empty": .init(empty)],
                                   metadata: ["format": "pt", "note": "quote \" and \\ and\nnewline"])
        let url = try scratchDirectory().appendingPathComponent("state.safetensors")
        try original.write(to: url)
        let read = try SafeTensors.read(from: url)
        #expect(read.names == ["bn.num_batches_tracked", "empty", "layer.weight"])
        #expect(read.metadata == original.metadata)
        #expect(read["layer.weight"]?.shape == [2, 3])
        #expect(read["layer.weight"]?.scalars.map(\.bitPattern) == weight.scalars.map(\.bitPattern))
        #expect(read.entries["bn.num_batches_tracked"]?.dtype == .i64)
        #expect(read["bn.num_batches_tracked"]?.shape == [])
        #expect(read["bn.num_batches_tracked"]?.scalars == [12345])
        #expect(read["empty"]?.shape == [0, 4])
    }

    @Test func goldenBytesMatchTheReferenceLibrary() throws {
        // safetensors.numpy.save({"a": int64 [[3]], "b": float32 [1, -2]}, metadata={"format": "pt"})
        let header = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"I64","shape":[1,1],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}   "#
        let golden: [UInt8] = [144, 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8)
            + [3, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 0x80, 0x3F] + [0, 0, 0, 0xC0]
        #expect(golden.count == 168)
        let state = SafeTensors(entries: ["b": .init(Tensor(shape: [2], values: [1, -2])),
                                          "a": .init(Tensor(shape: [1, 1], values: [3]), dtype: .i64)],
                                metadata: ["format": "pt"])
        #expect(try state.serialized() == golden)

        let parsed = try SafeTensors(bytes: golden, file: "golden")
        #expect(parsed["a"]?.scalars == [3])
        #expect(parsed.entries["a"]?.dtype == .i64)
        #expect(parsed["b"]?.scalars == [1, -2])
        #expect(parsed.metadata == ["format": "pt"])
    }

    @Test(arguments: [SafeTensorsDType.f64, .f16, .bf16])
    func otherFloatTypesConvertExactlyRepresentableValues(dtype: SafeTensorsDType) throws {
        let values: [Float] = [0, 1, -2, 0.5, 3.25, -1024, .infinity]
        let state = SafeTensors(entries: ["x": .init(Tensor(shape: [7], values: values), dtype: dtype)])
        let bytes = try state.serialized()
        let read = try SafeTensors(bytes: bytes, file: "x")
        #expect(read.entries["x"]?.dtype == dtype)
        #expect(read["x"]?.scalars == values)
    }

    @Test func bfloat16RoundsToNearestEven() throws {
        // 1 + 2^-8 lies halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to 1.
        let values: [Float] = [1 + 0x1p-8, 1 + 0x1p-8 + 0x1p-16, 1 + 3 * 0x1p-8]
        let state = SafeTensors(entries: ["x": .init(Tensor(shape: [3], values: values), dtype: .bf16)])
        let read = try SafeTensors(bytes: state.serialized(), file: "x")
        #expect(read["x"]?.scalars == [1, 1 + 0x1p-7, 1 + 4 * 0x1p-8])
    }

    @Test func int64RefusesFractions() throws {
        let state = SafeTensors(entries: ["n": .init(Tensor(shape: [2], values: [1, 0.5]), dtype: .i64)])
        #expect(throws: CheckpointError(file: "out.safetensors", .notRepresentable(
            tensor: "n", "element 1 is 0.5, not an integer that fits I64"))) {
            try state.serialized(file: "out.safetensors")
        }
    }

    @Test func fileShorterThanEightBytes() throws {
        #expect(try readError([1, 2, 3, 4, 5])?.fault == .fileTooShort(size: 5))
        #expect(try readError([])?.fault == .fileTooShort(size: 0))
    }

    @Test func headerLengthBeyondTheFile() throws {
        var bytes = rawFile(header: "{}", dataBytes: 0)
        bytes[0] = 200
        #expect(try readError(bytes)?.fault == .headerLengthBeyondFile(headerLength: 200, fileSize: 16))
        bytes.replaceSubrange(0..<8, with: [UInt8](repeating: 0xFF, count: 8))
        #expect(try readError(bytes)?.fault == .headerLengthBeyondFile(headerLength: .max, fileSize: 16))
    }

    @Test func headerThatIsNotJSON() throws {
        for header in ["{\"a\": {\"dtype\": ", "not json", "", "[1, 2]"] {
            let fault = try readError(rawFile(header: header, dataBytes: 0))?.fault
            guard case .headerNotJSON = fault else {
                Issue.record("header \(header.debugDescription) gave \(String(describing: fault))")
                continue
            }
        }
    }

    @Test func headerOfTheWrongStructure() throws {
        let headers = [#"{"a":{"dtype":"F32","shape":[2]}}"#, #"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#,
                       #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}"#, #"{"__metadata__":{"k":1}}"#,
                       #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, #"{"a":3}"#]
        for header in headers {
            let fault = try readError(rawFile(header: header, dataBytes: 8))?.fault
            guard case .malformedHeader = fault else {
                Issue.record("header \(header) gave \(String(describing: fault))")
                continue
            }
        }
    }

    @Test func unknownDType() throws {
        let header = #"{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#
        #expect(try readError(rawFile(header: header, dataBytes: 8))?.fault == .unknownDType(tensor: "a", dtype: "Q7"))
    }

    @Test func shapeAndDTypeNotMatchingTheOffsets() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}"#
        #expect(try readError(rawFile(header: header, dataBytes: 12))?.fault
                == .sizeMismatch(tensor: "a", dtype: "F32", shape: [2], bytes: 12))
    }

    @Test func offsetsOutOfRangeOverlappingOrLeavingGaps() throws {
        let reversed = #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#
        #expect(try readError(rawFile(header: reversed, dataBytes: 8))?.fault
                == .offsetsOutOfRange(tensor: "a", begin: 8, end: 0))
        let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        #expect(try readError(rawFile(header: overlap, dataBytes: 12))?.fault == .overlappingOffsets(tensor: "b", other: "a"))
        let gap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#
        #expect(try readError(rawFile(header: gap, dataBytes: 20))?.fault == .unusedBytes(begin: 8, end: 12))
        let trailing = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(try readError(rawFile(header: trailing, dataBytes: 11))?.fault == .unusedBytes(begin: 8, end: 11))
    }

    @Test func truncatedData() throws {
        let state = SafeTensors(tensors: ["w": Tensor(shape: [4], repeating: 1)])
        let bytes = try state.serialized()
        let fault = try readError(Array(bytes.dropLast(3)))?.fault
        #expect(fault == .truncatedData(expected: 16, actual: 13))
    }

    @Test func missingFileIsNamed() throws {
        let url = try scratchDirectory().appendingPathComponent("absent.safetensors")
        #expect(throws: CheckpointError(file: url.path, .missing)) { try SafeTensors.read(from: url) }
    }
}
