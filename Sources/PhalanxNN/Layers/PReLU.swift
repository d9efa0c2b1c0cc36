// Parametric ReLU (He et al., "Delving Deep into Rectifiers", 2015), PyTorch's nn.PReLU.
//
// y = x for x > 0 and a·x otherwise, with a learned slope `a` shared by all channels
// (numParameters = 1) or one per channel (numParameters = C, channel dimension 1).
// Input [N, C, ...] of any rank ≥ 2; with one slope any rank. Work runs over
// (sample, channel) planes in parallel; the slope gradient is summed per plane in
// Double, then over planes in a fixed order, so it does not depend on the thread count.
import PhalanxCore

/// A leaky rectifier whose negative slope is learned.
public final class PReLU: Layer {
    public let kind = "PReLU"
    /// The number of slopes: 1, or the channel count C.
    public let numParameters: Int
    /// The slopes, PyTorch's `weight` of shape [numParameters]; not weight-decayed.
    public let weight: Parameter

    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    /// Per-plane partial sums of the slope gradient, kept from step to step.
    private var partials: [Double] = []

    /// A PReLU with `numParameters` slopes (1 or the channel count), each starting at
    /// `initialSlope` (PyTorch's `init`, default 0.25).
    public init(numParameters: Int = 1, initialSlope: Float = 0.25) {
        precondition(numParameters > 0, "PReLU: numParameters must be positive")
        self.numParameters = numParameters
        weight = Parameter(name: "weight", value: Tensor(shape: [numParameters], repeating: initialSlope),
                           decays: false)
    }

    public var parameters: [Parameter] { [weight] }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        if numParameters > 1 {
            guard s.count >= 2 else {
                throw ShapeError(kind: kind, "has \(numParameters) slopes and needs a channel dimension: expects input [N, \(numParameters), ...], got \(describe(s))")
            }
            guard s[1] == numParameters else {
                throw ShapeError(kind: kind, "has \(numParameters) slopes but the input has \(s[1]) channels (input \(describe(s)))")
            }
        }
        return s
    }

    /// The input seen as `planes` contiguous runs of `planeSize` elements (the last run
    /// may be shorter); plane p uses slope `p % numParameters`. Without a channel
    /// dimension (rank < 2, one slope) the runs are fixed-size blocks.
    private func layout(_ shape: [Int]) -> (planes: Int, planeSize: Int) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return (0, 1) }
        guard shape.count >= 2 else {
            let block = min(count, 4096)
            return ((count + block - 1) / block, block)
        }
        let planes = shape[0] * shape[1]
        return (planes, count / planes)
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        input = x
        let y = Tensor.reuse(&output, shape: shape)
        let (planes, size) = layout(shape)
        let px = x.data, py = y.data, pa = weight.value.data, slopes = numParameters, count = x.count
        Parallel.forEach(planes, grain: max(1, Vector.grain / size)) { r in
            for p in r {
                let a = pa[p % slopes], base = p * size
                for i in base..<min(base + size, count) {
                    let v = px[i]
                    py[i] = v > 0 ? v : a * v
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("PReLU.backward before forward") }
        precondition(dy.count == x.count, "PReLU.backward: gradient \(describe(dy.shape)) does not match input \(describe(x.shape))")
        let dx = Tensor.reuse(&inputGradient, shape: x.shape)
        let (planes, size) = layout(x.shape)
        let slopes = numParameters, count = x.count
        if partials.count < planes {
            partials = [Double](repeating: 0, count: planes)
        }
        let px = x.data, pdy = dy.data, pdx = dx.data, pa = weight.value.data
        partials.withUnsafeMutableBufferPointer { part in
            let pp = part.baseAddress!
            Parallel.forEach(planes, grain: max(1, Vector.grain / size)) { r in
                for p in r {
                    let a = pa[p % slopes], base = p * size
                    var da = 0.0
                    for i in base..<min(base + size, count) {
                        let v = px[i], g = pdy[i]
                        if v > 0 {
                            pdx[i] = g
                        } else {
                            pdx[i] = a * g
                            da += Double(g) * Double(v)
                        }
                    }
                    pp[p] = da
                }
            }
            let ga = weight.gradient.data
            for c in 0..<slopes {
                var s = 0.0
                for p in stride(from: c, to: planes, by: slopes) { s += pp[p] }
                ga[c] += Float(s)
            }
        }
        return dx
    }
}
