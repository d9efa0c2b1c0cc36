// Local response normalisation across channels, PyTorch's nn.LocalResponseNorm.
//
// b_c = a_c / s_c^β with s_c = k + (α/n) · Σ_{j = c − ⌊n/2⌋}^{c + ⌊(n−1)/2⌋} a_j²,
// channels outside [0, C) counting as zero. Input [N, C, ...] of rank ≥ 3.
// Work runs over (sample, channel) planes in parallel; each plane sums its window
// directly (n planes), which costs n·size but keeps every plane independent.
// s^(−β) is kept from forward for backward; for AlexNet's β = 0.75 it is
// 1/√s · √(1/√s), two square roots that vectorise, instead of a powf per element.
import Foundation
import PhalanxCore

/// Normalises each activation by the energy of its neighbours across channels.
///
/// PyTorch divides α by the window size n; Krizhevsky, Sutskever & Hinton ("ImageNet
/// Classification with Deep Convolutional Neural Networks", 2012) do not, and use
/// k = 2, n = 5, α = 10⁻⁴, β = 0.75. To reproduce AlexNet's layer here, pass k = 2 and
/// α = 5·10⁻⁴ (n times theirs). For even n the window reaches one channel further
/// down than up, as in PyTorch.
public final class LocalResponseNorm: Layer {
    public let kind = "LocalResponseNorm"
    /// The window size n, in channels.
    public let size: Int
    /// The scale α of the window's sum of squares (divided by n, as in PyTorch).
    public let alpha: Float
    /// The exponent β.
    public let beta: Float
    /// The additive constant k.
    public let k: Float

    private var input: Tensor?
    private var output: Tensor?
    /// s from the last forward, the input's shape.
    private var scale: Tensor?
    /// s^(−β) from the last forward.
    private var scalePower: Tensor?
    /// dy·b/s from the current backward, the input's shape.
    private var ratio: Tensor?
    private var inputGradient: Tensor?

    /// An LRN with PyTorch's parameter names and defaults.
    public init(size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
        precondition(size > 0, "LocalResponseNorm: size must be positive")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
    }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard s.count >= 3 else {
            throw ShapeError(kind: kind, "expects input [N, C, H, W] (or any rank ≥ 3), got \(describe(s))")
        }
        return s
    }

    /// Channels of the window of channel `c`: c − ⌊n/2⌋ ... c + ⌊(n−1)/2⌋, clipped.
    @inline(__always)
    private func window(_ c: Int, _ channels: Int) -> ClosedRange<Int> {
        max(0, c - size / 2)...min(channels - 1, c + (size - 1) / 2)
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        input = x
        let n = shape[0], c = shape[1], inner = x.count / max(n * c, 1)
        let y = Tensor.reuse(&output, shape: shape)
        let s = Tensor.reuse(&scale, shape: shape)
        let sp = Tensor.reuse(&scalePower, shape: shape)
        let px = x.data, py = y.data, ps = s.data, psp = sp.data
        let a = alpha / Float(size), k = k, beta = beta
        Parallel.forEach(n * c, grain: max(1, Vector.grain / max(inner * size, 1))) { planes in
            for p in planes {
                let sample = p / c, ch = p % c, out = p * inner
                for i in 0..<inner { ps[out + i] = 0 }
                for j in window(ch, c) {
                    let src = (sample * c + j) * inner
                    for i in 0..<inner { let v = px[src + i]; ps[out + i] += v * v }
                }
                for i in out..<(out + inner) { ps[i] = k + a * ps[i] }
                LocalResponseNorm.power(ps + out, -beta, into: psp + out, count: inner)
                for i in out..<(out + inner) { py[i] = px[i] * psp[i] }
            }
        }
        return y
    }

    /// dx_j = dy_j · s_j^(−β) − (2αβ/n) · a_j · Σ_{i : j ∈ window(i)} dy_i · b_i / s_i,
    /// where j ∈ window(i) exactly when i ∈ j − ⌊(n−1)/2⌋ ... j + ⌊n/2⌋.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input, let y = output, let s = scale, let sp = scalePower else {
            preconditionFailure("LocalResponseNorm.backward before forward")
        }
        precondition(dy.count == x.count, "LocalResponseNorm.backward: gradient \(describe(dy.shape)) does not match input \(describe(x.shape))")
        let shape = x.shape
        let n = shape[0], c = shape[1], inner = x.count / max(n * c, 1)
        let t = Tensor.reuse(&ratio, shape: shape)
        let dx = Tensor.reuse(&inputGradient, shape: shape)
        let px = x.data, py = y.data, ps = s.data, psp = sp.data, pdy = dy.data, pt = t.data, pdx = dx.data
        forEachElement(x.count) { r in
            for i in r { pt[i] = pdy[i] * py[i] / ps[i] }
        }
        let factor = 2 * alpha * beta / Float(size)
        let down = (size - 1) / 2, up = size / 2
        Parallel.forEach(n * c, grain: max(1, Vector.grain / max(inner * size, 1))) { planes in
            for p in planes {
                let sample = p / c, ch = p % c, out = p * inner
                for i in 0..<inner { pdx[out + i] = 0 }
                for j in max(0, ch - down)...min(c - 1, ch + up) {
                    let src = (sample * c + j) * inner
                    for i in 0..<inner { pdx[out + i] += pt[src + i] }
                }
                for i in out..<(out + inner) {
                    pdx[i] = pdy[i] * psp[i] - factor * px[i] * pdx[i]
                }
            }
        }
        return dx
    }

    /// out[i] = s[i]^e for positive s; exponents −0.75, −0.5 and −1 without powf.
    static func power(_ s: UnsafeMutablePointer<Float>, _ e: Float, into out: UnsafeMutablePointer<Float>, count: Int) {
        switch e {
        case -0.75:
            for i in 0..<count { let r = 1 / s[i].squareRoot(); out[i] = r * r.squareRoot() }
        case -0.5:
            for i in 0..<count { out[i] = 1 / s[i].squareRoot() }
        case -1:
            for i in 0..<count { out[i] = 1 / s[i] }
        default:
            for i in 0..<count { out[i] = powf(s[i], e) }
        }
    }
}
