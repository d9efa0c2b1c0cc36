// Reshape: [N, …] → [N, s1, s2, …] with the same number of values per sample — PyTorch's
// `x.view(N, *shape)` / nn.Unflatten(1, shape): a decoder's way from a code vector back
// to feature maps. Like Flatten, forward and backward return views (no copy).
import PhalanxCore

/// Gives every sample the shape `shape`.
public final class Reshape: Layer {
    public let kind = "Reshape"
    /// The per-sample shape of the output.
    public let shape: [Int]
    private var inputShape: [Int] = []
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init(shape: [Int]) { self.shape = shape }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard s.count >= 2 else { throw ShapeError(kind: kind, "expects input [N, ...], got \(describe(s))") }
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError(kind: kind, "the shape must be positive sizes, got \(describe(shape))")
        }
        let have = s.dropFirst().reduce(1, *), want = shape.reduce(1, *)
        guard have == want else {
            throw ShapeError(kind: kind, "cannot give \(have) values per sample (\(describe(Array(s.dropFirst())))) "
                + "the shape \(describe(shape)) (\(want) values)")
        }
        return [s[0]] + shape
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let out = checkedOutputShape(x)
        inputShape = x.shape
        return Flatten.view(of: x, shape: out, cached: &output)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        precondition(dy.count == inputShape.reduce(1, *), "Reshape.backward: gradient \(describe(dy.shape)) does not fit")
        return Flatten.view(of: dy, shape: inputShape, cached: &inputGradient)
    }
}
