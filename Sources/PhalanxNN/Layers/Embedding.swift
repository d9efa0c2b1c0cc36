// Embedding: a lookup table of learned vectors, PyTorch's nn.Embedding (`weight` [V, E]).
// Input [N, T] of token ids stored as Float (exact up to 2²⁴); output [N, T, E].
// Backward adds each output row's gradient to its token's row; ids have no gradient
// (the returned input gradient is zeros).
import PhalanxCore

public final class Embedding: Layer {
    public let kind = "Embedding"
    public let count: Int
    public let width: Int
    public let weight: Parameter

    private var ids: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// Vectors drawn from N(0, 1), as PyTorch does.
    public init(count: Int, width: Int, rng: inout RNG) {
        precondition(count > 0 && width > 0, "Embedding: sizes must be positive")
        self.count = count
        self.width = width
        let w = Tensor(shape: [count, width])
        rng.fillNormal(w, mean: 0, std: 1)
        weight = Parameter(name: "weight", value: w, decays: false)
    }

    public var parameters: [Parameter] { [weight] }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard s.count == 2 else { throw ShapeError(kind: kind, "expects token ids [N, T], got \(describe(s))") }
        return s + [width]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        ids = x
        let y = Tensor.reuse(&output, shape: shape)
        for i in 0..<x.count {
            let id = Int(x[i])
            precondition(id >= 0 && id < count, "Embedding: token id \(id) outside 0..<\(count)")
            (y.data + i * width).update(from: weight.value.data + id * width, count: width)
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = ids else { preconditionFailure("Embedding.backward before forward") }
        let g = weight.gradient.data
        for i in 0..<x.count {
            let row = g + Int(x[i]) * width, d = dy.data + i * width
            for j in 0..<width { row[j] += d[j] }
        }
        let dx = Tensor.reuse(&inputGradient, shape: x.shape)
        dx.zero()
        return dx
    }
}
