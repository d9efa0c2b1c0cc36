// CheckpointSummary: what a checkpoint (or a lone safetensors file) holds, for
// `phalanx inspect` — tensor names, dtypes and shapes, parameter count, metadata and
// the trainer state as JSON. The files are verified as for loading.
import Foundation

/// A readable account of a checkpoint directory or a safetensors file.
public struct CheckpointSummary: Sendable, CustomStringConvertible {
    /// One tensor's name, stored type and shape.
    public struct TensorInfo: Sendable, Equatable {
        /// The state-dict name.
        public let name: String
        /// The element type in the file.
        public let dtype: SafeTensorsDType
        /// The shape.
        public let shape: [Int]
        /// The number of elements.
        public var count: Int { shape.reduce(1, *) }
    }

    /// The path inspected.
    public let path: String
    /// The training step, for a checkpoint directory.
    public let step: Int?
    /// The model's tensors, sorted by name.
    public let model: [TensorInfo]
    /// The model file's metadata.
    public let modelMetadata: [String: String]
    /// Trainable scalars in the model (buffers not counted).
    public let parameterCount: Int
    /// The optimizer's tensors, sorted by name (empty for a lone file).
    public let optimizer: [TensorInfo]
    /// The optimizer file's metadata.
    public let optimizerMetadata: [String: String]
    /// The `trainer` part of trainer.json, pretty-printed with sorted keys.
    public let trainerJSON: String?
    /// The recorded size and CRC-32 of each file, all verified.
    public let files: [String: FileIntegrity]
    /// The task the checkpoint's config trains (nil for a lone file).
    public var task: String?

    /// Summarizes the checkpoint directory at `url` (a `step-*` directory or a link to
    /// one), or the safetensors file at `url`. Throws as loading would.
    public static func inspect(_ url: URL) throws(CheckpointError) -> CheckpointSummary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError(file: url.path, .missing)
        }
        guard isDirectory.boolValue else {
            let state = try SafeTensors.read(from: url)
            return CheckpointSummary(path: url.path, step: nil, model: infos(state), modelMetadata: state.metadata,
                                     parameterCount: ModelState.parameterCount(state), optimizer: [],
                                     optimizerMetadata: [:], trainerJSON: nil, files: [:])
        }
        let checkpoint = try Checkpoint.load(from: url, as: Opaque.self)
        let record: TrainerFile<Opaque> = try readTrainerFile(in: url)
        return CheckpointSummary(path: url.path, step: checkpoint.step, model: infos(checkpoint.model),
                                 modelMetadata: checkpoint.model.metadata,
                                 parameterCount: ModelState.parameterCount(checkpoint.model),
                                 optimizer: infos(checkpoint.optimizer), optimizerMetadata: checkpoint.optimizer.metadata,
                                 trainerJSON: try trainerSection(in: url), files: record.files,
                                 task: try? TaskRegistry.kind(ofCheckpoint: url).name)
    }

    public var description: String {
        var lines = ["checkpoint \(path)" + (step.map { " (step \($0))" } ?? "") + (task.map { ", task \($0)" } ?? "")]
        lines.append("model: \(model.count) tensors, \(parameterCount) parameters")
        lines += Self.table(model)
        lines += Self.metadataLines(modelMetadata)
        if step != nil {
            lines.append("optimizer: \(optimizer.count) tensors")
            lines += Self.table(optimizer)
            lines += Self.metadataLines(optimizerMetadata)
        }
        for (name, record) in files.sorted(by: { $0.key < $1.key }) {
            lines.append("file \(name): \(record.bytes) bytes, crc32 \(record.crc32), verified")
        }
        if let trainerJSON { lines.append("trainer: " + trainerJSON) }
        return lines.joined(separator: "\n")
    }

    private static func infos(_ state: SafeTensors) -> [TensorInfo] {
        state.names.map { TensorInfo(name: $0, dtype: state.entries[$0]!.dtype, shape: state.entries[$0]!.tensor.shape) }
    }

    private static func table(_ tensors: [TensorInfo]) -> [String] {
        let width = tensors.map(\.name.count).max() ?? 0
        return tensors.map { info in
            let padding = String(repeating: " ", count: width - info.name.count)
            return "  \(info.name)\(padding)  \(info.dtype.rawValue)  \(info.shape)"
        }
    }

    private static func metadataLines(_ metadata: [String: String]) -> [String] {
        metadata.sorted { $0.key < $1.key }.map { "  metadata \($0.key) = \($0.value)" }
    }

    /// trainer.json's `trainer` value re-serialized, pretty and with sorted keys.
    private static func trainerSection(in directory: URL) throws(CheckpointError) -> String {
        let url = directory.appendingPathComponent(CheckpointLayout.trainer)
        let bytes = try DurableFile.readAll(url)
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
                    as? [String: Any], let trainer = object["trainer"] else {
                throw CheckpointError(file: url.path, .invalidJSON("no 'trainer' object"))
            }
            let data = try JSONSerialization.data(withJSONObject: trainer,
                                                  options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed,
                                                            .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(file: url.path, .invalidJSON("\(error)"))
        }
    }
}

/// Decodes any JSON value and keeps nothing: the trainer state of a checkpoint that
/// is only inspected.
struct Opaque: Decodable, Sendable {
    init(from decoder: Decoder) throws {}
}
