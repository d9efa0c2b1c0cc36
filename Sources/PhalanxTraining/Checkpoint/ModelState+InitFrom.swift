// Starting a model from another run's weights (`init_from:`), with a name mapping.
import Foundation
import PhalanxCore
import PhalanxNN

/// What `ModelState.initialize` did.
public struct InitializationReport: Equatable, Sendable {
    /// This model's tensors that came from the source.
    public var loaded: [String] = []
    /// This model's tensors the source lacks (kept their initialisation; strict: none).
    public var kept: [String] = []
    /// Source tensors no tensor of this model maps to (strict: none).
    public var unused: [String] = []
}

extension ModelState {
    /// The tensors `from` names: a checkpoint directory's (or link's) `model.safetensors`,
    /// or a `.safetensors` file.
    public static func source(_ path: String) throws(CheckpointError) -> (SafeTensors, file: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError(file: path, .missing)
        }
        let url = isDirectory.boolValue
            ? URL(fileURLWithPath: path).appendingPathComponent(CheckpointLayout.model) : URL(fileURLWithPath: path)
        return (try SafeTensors.read(from: url), url.path)
    }

    /// Copies the tensors of `state` into `model` by `config`'s name mapping. Throws,
    /// naming the file and tensor, for a shape that differs and (strict) for a tensor
    /// missing on either side; the model is changed only when everything fits.
    public static func initialize(_ model: Layer, from state: SafeTensors, file: String,
                                  config: InitFromConfig) throws(CheckpointError) -> InitializationReport {
        var report = InitializationReport()
        var used = Set<String>()
        var copies: [(Tensor, Tensor)] = []
        for (name, target) in namedTensors(of: model) {
            let sourceName = config.sourceName(name)
            guard let source = state[sourceName] else {
                if config.strict {
                    throw CheckpointError(file: file, .missingTensor(sourceName == name ? name : "\(sourceName) (for \(name))"))
                }
                report.kept.append(name)
                continue
            }
            guard source.shape == target.shape else {
                throw CheckpointError(file: file, .shapeMismatch(tensor: sourceName == name ? name : "\(sourceName) → \(name)",
                                                                 expected: target.shape, found: source.shape))
            }
            used.insert(sourceName)
            copies.append((source, target))
            report.loaded.append(name)
        }
        report.unused = state.names.filter { !used.contains($0) }
        if config.strict, let extra = report.unused.first {
            throw CheckpointError(file: file, .unexpectedTensor(extra + " (set init_from.strict: false to ignore it)"))
        }
        guard !report.loaded.isEmpty else {
            throw CheckpointError(file: file, .io("no tensor of it fits a tensor of this model (check init_from.map)"))
        }
        for (source, target) in copies { target.data.update(from: source.data, count: target.count) }
        return report
    }
}
