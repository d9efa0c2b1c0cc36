// Dropout (Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
// Overfitting", 2014) with inverted scaling, as PyTorch's nn.Dropout.
//
// Training: each element is zeroed with probability p and the kept ones are scaled by
// 1/(1 − p), so evaluation is the identity. The mask comes from the layer's own seeded
// RNG, drawn sequentially so that it does not depend on the thread count; applying it
// runs in parallel. Left out: per-channel (2-D) dropout.
import PhalanxCore

/// Randomly zeroes elements in training; the identity in evaluation.
public final class Dropout: Layer {
    public let kind = "Dropout"
    /// The probability of zeroing an element, in [0, 1].
    public let p: Float
    /// The generator that draws the masks. A trainer saves and restores it with its
    /// checkpoints (`RNG` is `Codable`) so that a resumed run draws the same masks.
    public var rng: RNG
    /// When true, training-mode forwards reuse the last mask instead of drawing a new one
    /// (a new one is still drawn when none exists or the element count changed). For
    /// gradient checks, which call `forward` many times: run one forward, set this, check.
    public var freezeMask = false

    /// 1/(1 − p) for kept elements, 0 for dropped ones, from the last training forward.
    private var mask: Tensor?
    /// Whether the last forward applied the mask (training with p > 0).
    private var masked = false
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A dropout layer drawing its masks from `rng`.
    public init(p: Float = 0.5, rng: RNG) {
        precondition(p >= 0 && p <= 1, "Dropout: p must lie in [0, 1], got \(p)")
        self.p = p
        self.rng = rng
    }

    /// A dropout layer drawing its masks from `RNG(seed: seed, stream: stream)`.
    public convenience init(p: Float = 0.5, seed: UInt64, stream: UInt64 = 0) {
        self.init(p: p, rng: RNG(seed: seed, stream: stream))
    }

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] { inputShape }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let y = Tensor.reuse(&output, shape: x.shape)
        masked = mode == .training && p > 0
        guard masked else {
            y.data.update(from: x.data, count: x.count)
            return y
        }
        if !(freezeMask && mask?.count == x.count) {
            drawMask(count: x.count)
        }
        let m = mask!
        m.resize(x.shape)
        let px = x.data, pm = m.data, py = y.data
        forEachElement(x.count) { r in
            for i in r { py[i] = px[i] * pm[i] }
        }
        return y
    }

    /// Fills the mask for `count` elements from `rng`.
    private func drawMask(count: Int) {
        let m = Tensor.reuse(&mask, shape: [count])
        let pm = m.data, drop = p
        // p = 1 drops everything; the scale is then never used.
        let scale: Float = p < 1 ? 1 / (1 - p) : 0
        var g = rng
        for i in 0..<count { pm[i] = g.nextFloat() < drop ? 0 : scale }
        rng = g
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = output else { preconditionFailure("Dropout.backward before forward") }
        precondition(dy.count == y.count, "Dropout.backward: gradient \(describe(dy.shape)) does not match output \(describe(y.shape))")
        let dx = Tensor.reuse(&inputGradient, shape: y.shape)
        guard masked, let m = mask else {
            dx.data.update(from: dy.data, count: dy.count)
            return dx
        }
        let pdy = dy.data, pm = m.data, pdx = dx.data
        forEachElement(dy.count) { r in
            for i in r { pdx[i] = pdy[i] * pm[i] }
        }
        return dx
    }
}
