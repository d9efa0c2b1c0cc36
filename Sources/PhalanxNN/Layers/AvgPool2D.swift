// AvgPool2D: the mean of each kh×kw window, PyTorch's nn.AvgPool2d with its defaults
// (count_include_pad = true, floor mode): padded positions count as zeros, so every
// window's sum is divided by kh·kw.
//
// Input [N, C, H, W], output [N, C, outH, outW] with outH = (H − kh + 2P)/S + 1.
// Backward spreads dY/(kh·kw) over each window. Planes (n, c) run in parallel.
import PhalanxCore

/// Average pooling over NCHW tensors.
public final class AvgPool2D: Layer {
    public let kind = "AvgPool2D"
    /// Kernel, stride and padding.
    public let window: PoolWindow
    private var inputShape: [Int] = []
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A `kernel.0 × kernel.1` window moved by `stride` (default: the kernel), with
    /// zero `padding` (at most half the kernel) counted in every average.
    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) throws(ShapeError) {
        window = try PoolWindow(kind: kind, kernel: kernel, stride: stride, padding: padding)
    }

    /// A square window, the same stride and padding along height and width.
    public convenience init(kernel: Int, stride: Int? = nil, padding: Int = 0) throws(ShapeError) {
        try self.init(kernel: (kernel, kernel), stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        let g = try window.geometry(for: s, kind: kind)
        return [s[0], s[1], g.outH, g.outW]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        let g = try! window.geometry(for: x.shape, kind: kind)
        inputShape = x.shape
        let y = Tensor.reuse(&output, shape: shape)
        let planes = shape[0] * shape[1], inPlane = g.height * g.width, outPlane = g.outH * g.outW
        let px = x.data, py = y.data
        Parallel.forEach(planes, grain: window.grain(g)) { r in
            for p in r { avgPool2DForward(px + p * inPlane, g, py + p * outPlane) }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = output else { preconditionFailure("AvgPool2D.backward before forward") }
        precondition(dy.shape == y.shape, "AvgPool2D.backward: output gradient \(describe(dy.shape)) does not match output \(describe(y.shape))")
        let g = try! window.geometry(for: inputShape, kind: kind)
        let dx = Tensor.reuse(&inputGradient, shape: inputShape)
        let planes = y.shape[0] * y.shape[1], inPlane = g.height * g.width, outPlane = g.outH * g.outW
        let pdy = dy.data, pdx = dx.data
        Parallel.forEach(planes, grain: window.grain(g)) { r in
            (pdx + r.lowerBound * inPlane).update(repeating: 0, count: r.count * inPlane)
            for p in r { avgPool2DBackward(pdy + p * outPlane, g, pdx + p * inPlane) }
        }
        return dx
    }
}
