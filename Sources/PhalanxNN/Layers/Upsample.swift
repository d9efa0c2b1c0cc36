// Nearest-neighbour upsampling by an integer factor: [N, C, H, W] → [N, C, H·f, W·f],
// every input pixel copied into an f×f block (PyTorch's nn.Upsample(scale_factor=f,
// mode='nearest')). Backward sums each block's gradients into its pixel. No parameters.
import PhalanxCore

/// Nearest upsampling by `factor` in both spatial dimensions.
public final class Upsample: Layer {
    public let kind = "Upsample"
    public let factor: Int
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var inputShape: [Int] = []

    public init(factor: Int) { self.factor = factor }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard s.count == 4 else { throw ShapeError(kind: kind, "expects input [N, C, H, W], got \(describe(s))") }
        guard factor >= 1 else { throw ShapeError(kind: kind, "the factor must be at least 1, got \(factor)") }
        return [s[0], s[1], s[2] * factor, s[3] * factor]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        inputShape = x.shape
        let y = Tensor.reuse(&output, shape: shape)
        let f = factor, h = x.shape[2], w = x.shape[3], planes = x.shape[0] * x.shape[1]
        let src = x.data, dst = y.data
        Parallel.forEach(planes, grain: 4) { range in
            for p in range {
                let inPlane = src + p * h * w, outPlane = dst + p * h * w * f * f
                for i in 0..<h {
                    let row = outPlane + i * f * w * f
                    for j in 0..<w {
                        let v = inPlane[i * w + j]
                        for b in 0..<f { row[j * f + b] = v }
                    }
                    for r in 1..<max(f, 1) { (row + r * w * f).update(from: row, count: w * f) }
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let dx = Tensor.reuse(&inputGradient, shape: inputShape)
        let f = factor, h = inputShape[2], w = inputShape[3], planes = inputShape[0] * inputShape[1]
        let src = dy.data, dst = dx.data
        Parallel.forEach(planes, grain: 4) { range in
            for p in range {
                let outPlane = dst + p * h * w, inPlane = src + p * h * w * f * f
                for i in 0..<h {
                    for j in 0..<w {
                        var s: Float = 0
                        for a in 0..<f {
                            let row = inPlane + (i * f + a) * w * f + j * f
                            for b in 0..<f { s += row[b] }
                        }
                        outPlane[i * w + j] = s
                    }
                }
            }
        }
        return dx
    }
}
