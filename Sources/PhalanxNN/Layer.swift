// The Layer protocol: explicit forward and backward, parameters listed by name.
//
// Caffe / llm.c style: a layer computes its output in `forward`, keeps what
// `backward` needs, and in `backward` returns the input gradient and *accumulates*
// its parameter gradients (the trainer zeroes them before each step). There is no
// tape and no reflection: containers call their children explicitly.
import PhalanxCore

/// Whether a forward pass is for training (batch statistics, dropout on) or evaluation.
public enum Mode: Sendable, Equatable {
    case training
    case evaluation
}

/// One stage of a network.
public protocol Layer: AnyObject {
    /// The layer's kind as users see it in configs and messages (`Conv2D`).
    var kind: String { get }

    /// Trainable tensors in a stable order, named as in a PyTorch state dict.
    var parameters: [Parameter] { get }

    /// Non-trainable state saved with the model (batch-norm running statistics).
    var buffers: [Buffer] { get }

    /// The layers a container runs (empty for a plain layer), so that trees are walked
    /// without knowing every container type (`allLayers(of:)`).
    var sublayers: [Layer] { get }

    /// The output shape for an input shape, or an error naming what does not fit.
    /// Model builders call this once to check a whole network before training.
    func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int]

    /// Computes the output; the returned tensor belongs to the layer and is reused.
    func forward(_ input: Tensor, mode: Mode) -> Tensor

    /// Given dLoss/dOutput for the last `forward`, accumulates parameter gradients and
    /// returns dLoss/dInput (a tensor the layer owns).
    func backward(_ outputGradient: Tensor) -> Tensor
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var buffers: [Buffer] { [] }
    public var sublayers: [Layer] { [] }

    /// Sets every parameter gradient to zero.
    public func zeroGradients() {
        for p in parameters { p.gradient.zero() }
    }

    /// Checks `input` against `outputShape(for:)`; a mismatch is a programmer error here
    /// because models are validated when they are built.
    @inlinable
    func checkedOutputShape(_ input: Tensor) -> [Int] {
        do {
            return try outputShape(for: input.shape)
        } catch {
            preconditionFailure("\(error)")
        }
    }
}

/// A trainable tensor with its gradient.
public final class Parameter: @unchecked Sendable {
    /// The PyTorch state-dict name (`features.0.weight`); containers prefix it.
    public var name: String
    /// The current value.
    public let value: Tensor
    /// dLoss/dValue, accumulated by `backward`.
    public let gradient: Tensor
    /// Whether optimizers update it.
    public var requiresGrad: Bool
    /// Whether L1/L2 penalties apply (weights yes; biases, norms and slopes no).
    public var decays: Bool

    public init(name: String, value: Tensor, requiresGrad: Bool = true, decays: Bool = true) {
        self.name = name
        self.value = value
        self.gradient = Tensor(shape: value.shape)
        self.requiresGrad = requiresGrad
        self.decays = decays
    }

    /// Number of scalars.
    public var count: Int { value.count }
}

/// A named non-trainable tensor saved with the model.
public final class Buffer: @unchecked Sendable {
    /// How the buffer is stored in a checkpoint.
    public enum StorageType: String, Sendable { case float32, int64 }

    /// The PyTorch state-dict name (`bn1.running_mean`).
    public var name: String
    /// The value (counts are kept as Float but saved as `int64`).
    public let value: Tensor
    /// The type it has in a PyTorch state dict.
    public let storageType: StorageType

    public init(name: String, value: Tensor, storageType: StorageType = .float32) {
        self.name = name
        self.value = value
        self.storageType = storageType
    }
}

/// Prefixes the names of a child's parameters and buffers with `prefix.` — how
/// containers build PyTorch's dotted state-dict names.
public func prefixNames(of layer: Layer, with prefix: String) {
    for p in layer.parameters { p.name = prefix + "." + p.name }
    for b in layer.buffers { b.name = prefix + "." + b.name }
}

/// Every layer of a tree, `root` first, depth first in the order containers list their
/// sublayers (the order a model builder creates them).
public func allLayers(of root: Layer) -> [Layer] {
    [root] + root.sublayers.flatMap { allLayers(of: $0) }
}
