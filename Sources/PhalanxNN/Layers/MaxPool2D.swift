// MaxPool2D: the maximum of each kh×kw window, PyTorch's nn.MaxPool2d (floor mode).
//
// Input [N, C, H, W], output [N, C, outH, outW] with outH = (H − kh + 2P)/S + 1;
// padded positions never win. Forward records each window's argmax so backward routes
// dY to it; overlapping windows (AlexNet's 3×3 stride 2) add up at a shared maximum.
// Planes (n, c) run in parallel. Also holds `PoolWindow`, shared with AvgPool2D.
import PhalanxCore

/// Kernel, stride and padding of a pooling window, checked once at construction.
public struct PoolWindow: Sendable {
    public let kernelH: Int, kernelW: Int
    public let strideH: Int, strideW: Int
    public let padH: Int, padW: Int

    /// Throws unless sizes are positive and 0 ≤ padding ≤ kernel/2 (as PyTorch asks,
    /// so that every window holds a real pixel). `stride` defaults to `kernel`.
    init(kind: String, kernel: (Int, Int), stride: (Int, Int)?, padding: (Int, Int)) throws(ShapeError) {
        let stride = stride ?? kernel
        guard kernel.0 > 0, kernel.1 > 0 else {
            throw ShapeError(kind: kind, "kernel \(kernel.0)×\(kernel.1) must be positive")
        }
        guard stride.0 > 0, stride.1 > 0 else {
            throw ShapeError(kind: kind, "stride \(stride.0)×\(stride.1) must be positive")
        }
        guard padding.0 >= 0, padding.1 >= 0, 2 * padding.0 <= kernel.0, 2 * padding.1 <= kernel.1 else {
            throw ShapeError(kind: kind, "padding \(padding.0)×\(padding.1) must be between 0 and half the kernel \(kernel.0)×\(kernel.1)")
        }
        (kernelH, kernelW) = kernel
        (strideH, strideW) = stride
        (padH, padW) = padding
    }

    /// The geometry of one plane of input `s` ([N, C, H, W]), or an error naming `kind`.
    func geometry(for s: [Int], kind: String) throws(ShapeError) -> ConvGeometry {
        guard s.count == 4 else {
            throw ShapeError(kind: kind, "expects input [N, C, H, W], got \(describe(s))")
        }
        let g = ConvGeometry(channels: 1, height: s[2], width: s[3], kernelH: kernelH, kernelW: kernelW,
                             strideH: strideH, strideW: strideW, padH: padH, padW: padW)
        try g.validate(kind: kind)
        return g
    }

    /// Planes per parallel chunk: enough that a chunk does ~16k window reads.
    func grain(_ g: ConvGeometry) -> Int {
        max(1, (1 << 14) / max(1, g.outH * g.outW * kernelH * kernelW))
    }
}

/// Max pooling over NCHW tensors.
public final class MaxPool2D: Layer {
    public let kind = "MaxPool2D"
    /// Kernel, stride and padding.
    public let window: PoolWindow
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var argmax: [Int32] = []

    /// A `kernel.0 × kernel.1` window moved by `stride` (default: the kernel, so windows
    /// tile without overlap), with `padding` (at most half the kernel).
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
        input = x
        let y = Tensor.reuse(&output, shape: shape)
        let planes = shape[0] * shape[1], inPlane = g.height * g.width, outPlane = g.outH * g.outW
        if argmax.count < planes * outPlane { argmax = [Int32](repeating: 0, count: planes * outPlane) }
        let px = x.data, py = y.data
        argmax.withUnsafeMutableBufferPointer { a in
            let pa = a.baseAddress!
            Parallel.forEach(planes, grain: window.grain(g)) { r in
                for p in r {
                    maxPool2DForward(px + p * inPlane, g, py + p * outPlane, argmax: pa + p * outPlane)
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input, let y = output else { preconditionFailure("MaxPool2D.backward before forward") }
        precondition(dy.shape == y.shape, "MaxPool2D.backward: output gradient \(describe(dy.shape)) does not match output \(describe(y.shape))")
        let dx = Tensor.reuse(&inputGradient, shape: x.shape)
        let planes = y.shape[0] * y.shape[1], inPlane = x.shape[2] * x.shape[3], outPlane = y.shape[2] * y.shape[3]
        let pdy = dy.data, pdx = dx.data
        let grain = max(1, (1 << 14) / max(1, inPlane))
        argmax.withUnsafeBufferPointer { a in
            let pa = a.baseAddress!
            Parallel.forEach(planes, grain: grain) { r in
                (pdx + r.lowerBound * inPlane).update(repeating: 0, count: r.count * inPlane)
                for p in r {
                    maxPool2DBackward(pdy + p * outPlane, argmax: pa + p * outPlane, outputs: outPlane,
                                      pdx + p * inPlane)
                }
            }
        }
        return dx
    }
}
