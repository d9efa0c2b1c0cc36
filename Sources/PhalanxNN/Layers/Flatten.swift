// Flatten: [N, d1, d2, ...] → [N, d1·d2·…], PyTorch's nn.Flatten() (start_dim = 1).
//
// Forward returns a view of the input's memory (no copy) and backward a view of the
// output gradient's memory with the input's shape; the view objects are kept and
// reused while the memory and shapes stay the same.
import PhalanxCore

/// Flattens every dimension after the batch dimension.
public final class Flatten: Layer {
    public let kind = "Flatten"
    private var inputShape: [Int] = []
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A flatten layer (it has no settings).
    public init() {}

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard s.count >= 2 else {
            throw ShapeError(kind: kind, "expects input [N, ...] with at least 2 dimensions, got \(describe(s))")
        }
        return [s[0], s.dropFirst().reduce(1, *)]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        inputShape = x.shape
        return Flatten.view(of: x, shape: shape, cached: &output)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        precondition(dy.count == inputShape.reduce(1, *),
                     "Flatten.backward: output gradient \(describe(dy.shape)) does not match input \(describe(inputShape))")
        return Flatten.view(of: dy, shape: inputShape, cached: &inputGradient)
    }

    /// `tensor` seen with `shape`, reusing the view in `cached` when it already is one.
    static func view(of tensor: Tensor, shape: [Int], cached: inout Tensor?) -> Tensor {
        if let v = cached, v.storage === tensor.storage, v.shape == shape { return v }
        let v = tensor.reshaped(shape)
        cached = v
        return v
    }
}
