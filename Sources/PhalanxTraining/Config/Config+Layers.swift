import Foundation
// The model-config language: one `LayerSpec` per layer, containers nesting specs.

/// One layer of a model config. `kind` picks the layer; the other keys are its
/// settings (which keys a kind takes is checked when the model is built).
public struct LayerSpec: Codable, Equatable, Sendable {
    /// conv2d, linear, relu, leaky_relu, prelu, tanh, sigmoid, maxpool, avgpool,
    /// global_avgpool, flatten, dropout, batchnorm, lrn, sequential, residual, concat,
    /// auxiliary, rnn, lstm.
    public var kind: String
    /// State-dict name of the layer; defaults to `<kind><index>` (`conv1`, `linear2`).
    /// With `repeat: n` a given name gets the copy's number: `block1` … `blockn`.
    public var name: String?
    /// Stands for `n` consecutive copies of this layer in its list (each with its own
    /// parameters), so a stage of identical blocks is written once.
    public var `repeat`: Int?
    /// Its parameters are not trained (PyTorch's `requires_grad = False`): a pretrained
    /// encoder held fixed. Any layer kind takes it.
    public var frozen: Bool?
    /// Output features (linear) or channels (conv2d).
    public var out: Int?
    public var kernel: IntPair?
    public var stride: IntPair?
    public var padding: IntPair?
    public var groups: Int?
    public var bias: Bool?
    /// Weight initialiser: lecun, glorot, he, he_uniform.
    public var initializer: String?
    /// LeakyReLU negative slope.
    public var slope: Float?
    /// PReLU: one slope per channel (true) or one shared (false, default).
    public var perChannel: Bool?
    /// Dropout probability.
    public var p: Float?
    /// Local response normalisation: window size, alpha, beta, k.
    public var size: Int?
    public var alpha: Float?
    public var beta: Float?
    public var k: Float?
    /// Batch normalisation running-average momentum and epsilon.
    public var momentum: Float?
    public var eps: Float?
    /// Children of sequential, the body of residual.
    public var layers: [LayerSpec]?
    /// Residual projection shortcut (absent: identity).
    public var shortcut: [LayerSpec]?
    /// Parallel branches of concat, joined on channels.
    public var branches: [LayerSpec]?
    /// Auxiliary classifier: factor on its loss (default 0.3).
    public var weight: Float?
    /// rnn / lstm: stacked layers (default 1), both directions, peephole connections
    /// (LSTM), and whether every step is output ([N, T, D·H]) or the final state ([N, D·H]).
    public var numLayers: Int?
    public var bidirectional: Bool?
    public var peephole: Bool?
    public var returnSequences: Bool?
    /// reshape: the per-sample shape of the output (`[32, 7, 7]`).
    public var shape: [Int]?
    /// upsample: the integer scale factor.
    public var factor: Int?
    /// conv_transpose2d: extra rows and columns on one side of the output (< stride).
    public var outputPadding: IntPair?

    enum CodingKeys: String, CodingKey {
        case kind, name, out, kernel, stride, padding, groups, bias, initializer = "init"
        case slope, perChannel = "per_channel", p, size, alpha, beta, k, momentum, eps
        case layers, shortcut, branches, weight, `repeat`, frozen
        case numLayers = "num_layers", bidirectional, peephole, returnSequences = "return_sequences"
        case shape, factor, outputPadding = "output_padding"
    }

    public init(kind: String, name: String? = nil) {
        self.kind = kind
        self.name = name
    }

    /// The keys set in this spec besides `kind`, `name` and `repeat` (for checking which
    /// a kind accepts): the keys it encodes to, since unset keys are left out.
    var setKeys: [String] {
        guard let data = try? JSONEncoder().encode(self),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return object.keys.filter { !["kind", "name", "repeat", "frozen"].contains($0) }.sorted()
    }
}
