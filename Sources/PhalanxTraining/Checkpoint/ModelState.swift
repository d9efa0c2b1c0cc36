// ModelState: a model's parameters and buffers as a PyTorch-style state dict in a
// safetensors file, and back.
//
// Names are `Parameter.name` / `Buffer.name` exactly, so `load_state_dict` of the
// equivalent PyTorch module accepts the file; buffers stored as int64 in PyTorch
// (`num_batches_tracked`) are written as I64. Loading checks every name and shape
// before it changes anything, so a mismatched file leaves the model as it was.
import Foundation
import PhalanxCore
import PhalanxNN

/// Saving and restoring a model's state dict (parameters and buffers by name).
public enum ModelState {
    /// Metadata key listing the buffer names (comma-separated), so that readers can
    /// tell trainable parameters from running statistics.
    public static let buffersKey = "phalanx.buffers"

    /// The model's parameters and buffers by state-dict name, with `format: pt`
    /// metadata. The entries share memory with the model: serialize them before the
    /// next training step, or copy.
    public static func tensors(of model: Layer) -> SafeTensors {
        var state = SafeTensors(metadata: ["format": "pt"])
        for p in model.parameters {
            precondition(state.entries[p.name] == nil, "ModelState: two tensors are named '\(p.name)'")
            state.entries[p.name] = .init(p.value, dtype: .f32)
        }
        let buffers = model.buffers
        for b in buffers {
            precondition(state.entries[b.name] == nil, "ModelState: two tensors are named '\(b.name)'")
            state.entries[b.name] = .init(b.value, dtype: b.storageType == .int64 ? .i64 : .f32)
        }
        if !buffers.isEmpty { state.metadata[buffersKey] = buffers.map(\.name).joined(separator: ",") }
        return state
    }

    /// Writes the model's state dict to `url` (atomically), with extra `metadata`.
    public static func save(_ model: Layer, to url: URL, metadata: [String: String] = [:]) throws(CheckpointError) {
        var state = tensors(of: model)
        state.metadata.merge(metadata) { _, new in new }
        try state.write(to: url)
    }

    /// Reads `url` and copies its tensors into `model`; see `apply(_:to:file:)`.
    public static func load(into model: Layer, from url: URL) throws(CheckpointError) {
        try apply(SafeTensors.read(from: url), to: model, file: url.path)
    }

    /// Copies `state`'s tensors into the model's parameters and buffers, matched by
    /// name. Throws, naming `file` and the tensor, at the first model tensor that is
    /// missing or has another shape, then at the first (sorted) tensor the model does
    /// not have; the model is changed only when everything matches.
    public static func apply(_ state: SafeTensors, to model: Layer, file: String) throws(CheckpointError) {
        let targets = namedTensors(of: model)
        for (name, target) in targets {
            guard let source = state[name] else { throw CheckpointError(file: file, .missingTensor(name)) }
            guard source.shape == target.shape else {
                throw CheckpointError(file: file, .shapeMismatch(tensor: name, expected: target.shape, found: source.shape))
            }
        }
        let known = Set(targets.map(\.name))
        if let extra = state.names.first(where: { !known.contains($0) }) {
            throw CheckpointError(file: file, .unexpectedTensor(extra))
        }
        for (name, target) in targets {
            target.data.update(from: state[name]!.data, count: target.count)
        }
    }

    /// Number of trainable scalars in a state dict: every tensor not listed as a
    /// buffer in its metadata (all of them when the list is absent).
    public static func parameterCount(_ state: SafeTensors) -> Int {
        let buffers = Set((state.metadata[buffersKey] ?? "").split(separator: ",").map(String.init))
        return state.entries.reduce(0) { $0 + (buffers.contains($1.key) ? 0 : $1.value.tensor.count) }
    }

    /// The model's parameters then buffers, in order, with their names.
    static func namedTensors(of model: Layer) -> [(name: String, tensor: Tensor)] {
        model.parameters.map { ($0.name, $0.value) } + model.buffers.map { ($0.name, $0.value) }
    }
}
