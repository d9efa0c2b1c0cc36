// The `init_from:` section: start a fresh run from another run's weights.

/// Weights to start from instead of the layers' initialisers (fine-tuning, stacked
/// pretraining, the same start for a comparison). `init_from: PATH` is short for
/// `init_from: {checkpoint: PATH}`. Applied on a fresh start only; `--resume` continues
/// from the run's own checkpoint.
public struct InitFromConfig: Codable, Equatable, Sendable {
    /// A checkpoint directory (or its `latest` / `best` link) or a `.safetensors` file.
    public var checkpoint: String
    /// Renames, as `prefix in this model: prefix in the source` (`{fc1.: enc1.}`); the
    /// longest matching prefix wins, a name no prefix matches is looked up as it is.
    public var map: [String: String]
    /// true: every parameter and buffer of this model comes from the source, and every
    /// source tensor is used (PyTorch's `load_state_dict(strict=True)`); false: tensors
    /// the source lacks keep their initialisation and unused source tensors are ignored,
    /// both listed when training starts. Shapes must match either way.
    public var strict: Bool

    enum CodingKeys: String, CodingKey { case checkpoint, map, strict }

    public init(checkpoint: String, map: [String: String] = [:], strict: Bool = true) {
        self.checkpoint = checkpoint; self.map = map; self.strict = strict
    }

    public init(from decoder: Decoder) throws {
        if let path = try? decoder.singleValueContainer().decode(String.self) {
            self.init(checkpoint: path)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(checkpoint: try c.decode(String.self, forKey: .checkpoint))
        map = try c.decodeIfPresent([String: String].self, forKey: .map) ?? map
        strict = try c.decodeIfPresent(Bool.self, forKey: .strict) ?? strict
    }

    /// The source's name for this model's tensor `name`.
    public func sourceName(_ name: String) -> String {
        guard let prefix = map.keys.filter({ name.hasPrefix($0) }).max(by: { $0.count < $1.count }) else { return name }
        return map[prefix]! + name.dropFirst(prefix.count)
    }
}
