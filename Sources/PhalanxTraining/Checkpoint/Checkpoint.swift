// Checkpoint: the three files of one checkpoint directory, written and read back with
// an integrity check.
//
//   model.safetensors      the model's state dict (PyTorch names and layouts)
//   optimizer.safetensors  the optimizer's state tensors, `step` in its metadata
//   trainer.json           {"format", "step", "files": {name: {bytes, crc32}}, "trainer": …}
//
// `trainer` is whatever Codable value the trainer supplies (epoch, RNG and sampler
// state, config, metrics). The size and CRC-32 of both safetensors files are recorded
// in trainer.json, so a truncated or corrupted file is refused by name. Making the
// directory appear atomically is `CheckpointStore`'s job.
import Foundation

/// File names of a checkpoint directory and of its store.
public enum CheckpointLayout {
    /// The model's state dict.
    public static let model = "model.safetensors"
    /// The optimizer's state.
    public static let optimizer = "optimizer.safetensors"
    /// Trainer state and integrity record.
    public static let trainer = "trainer.json"
    /// The link naming the newest complete checkpoint.
    public static let latest = "latest"
    /// The link naming the best checkpoint, when the trainer marks one.
    public static let best = "best"
    /// The value of trainer.json's `format` field.
    public static let format = "phalanx-checkpoint-1"

    /// `step-000123`: the directory name of a step (six digits at least).
    public static func directoryName(step: Int) -> String {
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// The step a directory name stands for, or nil for anything not `step-<digits>`.
    public static func step(fromDirectoryName name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.dropFirst(5)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }
}

/// The size and checksum of a file as it was written.
public struct FileIntegrity: Codable, Equatable, Sendable {
    /// Length in bytes.
    public var bytes: Int
    /// CRC-32 (zlib polynomial) as `0x` and eight hex digits.
    public var crc32: String

    /// The record for `contents`.
    public init(of contents: [UInt8]) {
        bytes = contents.count
        crc32 = hex(crc32Checksum(contents))
    }

    /// Throws, naming `file`, unless `contents` match this record.
    func verify(_ contents: [UInt8], file: String) throws(CheckpointError) {
        guard contents.count == bytes else {
            throw CheckpointError(file: file, .sizeChanged(expected: bytes, actual: contents.count))
        }
        let actual = crc32Checksum(contents)
        guard crc32.hasPrefix("0x"), let expected = UInt32(crc32.dropFirst(2), radix: 16) else {
            throw CheckpointError(file: file, .invalidJSON("crc32 '\(crc32)' is not 0x and eight hex digits"))
        }
        guard actual == expected else { throw CheckpointError(file: file, .checksumMismatch(expected: expected, actual: actual)) }
    }
}

/// The contents of trainer.json: format, step, integrity records, trainer state.
struct TrainerFile<State> {
    var format: String
    var step: Int
    var files: [String: FileIntegrity]
    var trainer: State
}

extension TrainerFile: Encodable where State: Encodable {}
extension TrainerFile: Decodable where State: Decodable {}

/// A checkpoint read back from disk, every file verified.
public struct Checkpoint<TrainerState: Decodable> {
    /// The checkpoint directory (as given; may be the `latest` link).
    public let directory: URL
    /// The training step it was written at.
    public let step: Int
    /// The model's state dict; apply it with `ModelState.apply(_:to:file:)`.
    public let model: SafeTensors
    /// The optimizer's state tensors and metadata.
    public let optimizer: SafeTensors
    /// The trainer's state as it was saved.
    public let trainer: TrainerState

    /// Reads and verifies the checkpoint in `directory`: trainer.json must decode,
    /// both safetensors files must exist with the recorded size and CRC-32 and parse.
    /// Every error names the file at fault.
    public static func load(from directory: URL, as type: TrainerState.Type = TrainerState.self)
        throws(CheckpointError) -> Checkpoint
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw CheckpointError(file: directory.path, .missing)
        }
        guard isDirectory.boolValue else { throw CheckpointError(file: directory.path, .io("not a checkpoint directory")) }
        let record: TrainerFile<TrainerState> = try readTrainerFile(in: directory)
        func verified(_ name: String) throws(CheckpointError) -> SafeTensors {
            let url = directory.appendingPathComponent(name)
            guard let integrity = record.files[name] else {
                throw CheckpointError(file: directory.appendingPathComponent(CheckpointLayout.trainer).path,
                                      .invalidJSON("no integrity record for \(name)"))
            }
            let bytes = try DurableFile.readAll(url)
            try integrity.verify(bytes, file: url.path)
            return try SafeTensors(bytes: bytes, file: url.path)
        }
        return Checkpoint(directory: directory, step: record.step, model: try verified(CheckpointLayout.model),
                          optimizer: try verified(CheckpointLayout.optimizer), trainer: record.trainer)
    }
}

extension Checkpoint: Sendable where TrainerState: Sendable {}

/// Decodes trainer.json in `directory`, checking its format field.
func readTrainerFile<State: Decodable>(in directory: URL) throws(CheckpointError) -> TrainerFile<State> {
    let url = directory.appendingPathComponent(CheckpointLayout.trainer)
    let bytes = try DurableFile.readAll(url)
    let record: TrainerFile<State>
    do {
        record = try JSONDecoder().decode(TrainerFile<State>.self, from: Data(bytes))
    } catch {
        throw CheckpointError(file: url.path, .invalidJSON(decodingReason(error)))
    }
    guard record.format == CheckpointLayout.format else {
        throw CheckpointError(file: url.path, .invalidJSON("format is '\(record.format)', expected '\(CheckpointLayout.format)'"))
    }
    guard record.step >= 0 else { throw CheckpointError(file: url.path, .invalidJSON("step \(record.step) is negative")) }
    return record
}

/// Writes the three files of a checkpoint into `directory` (which must exist), each
/// fsynced; the optimizer file's metadata gets `step`.
func writeCheckpointFiles<State: Encodable>(into directory: URL, step: Int, model: SafeTensors,
                                            optimizer: SafeTensors, trainer: State) throws(CheckpointError) {
    var optimizer = optimizer
    optimizer.metadata["step"] = String(step)
    var files: [String: FileIntegrity] = [:]
    for (name, contents) in [(CheckpointLayout.model, model), (CheckpointLayout.optimizer, optimizer)] {
        let url = directory.appendingPathComponent(name)
        let bytes = try contents.serialized(file: url.path)
        try DurableFile.writeSynced(bytes, to: url)
        files[name] = FileIntegrity(of: bytes)
    }
    let url = directory.appendingPathComponent(CheckpointLayout.trainer)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let json: Data
    do {
        json = try encoder.encode(TrainerFile(format: CheckpointLayout.format, step: step, files: files, trainer: trainer))
    } catch {
        throw CheckpointError(file: url.path, .invalidJSON("cannot encode the trainer state: \(error)"))
    }
    try DurableFile.writeSynced(Array(json) + [UInt8(ascii: "\n")], to: url)
}

/// A decoding error as one line: the key path and what is wrong there.
func decodingReason(_ error: Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    switch error {
    case .keyNotFound(let key, let context):
        return "key '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))' is missing"
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
        return (path.isEmpty ? "" : "at '\(path)': ") + (underlying ?? context.debugDescription)
    @unknown default:
        return "\(error)"
    }
}

/// What kind of model a checkpoint holds, by the task its config trained
/// (`TaskRegistry.kind(ofCheckpoint:)` gives the task itself).
public enum CheckpointKind: Sendable, Equatable {
    case classifier
    case languageModel
    case encoderDecoder
    /// A task registered besides the built-in ones, by name.
    case other(String)

    /// Reads `directory`'s trainer.json (errors name the file).
    public static func of(_ directory: URL) throws -> CheckpointKind {
        switch try TaskRegistry.kind(ofCheckpoint: directory).name {
        case ClassificationTask.kind.name: return .classifier
        case LanguageModelTask.kind.name: return .languageModel
        case Seq2SeqTask.kind.name: return .encoderDecoder
        case let name: return .other(name)
        }
    }
}
