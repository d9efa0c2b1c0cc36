// GlobalAvgPool: the mean of each channel plane, [N, C, H, W] → [N, C]
// (PyTorch's nn.AdaptiveAvgPool2d(1) followed by flatten).
//
// Backward spreads dY[n, c]/(H·W) over the plane. Planes run in parallel.
import PhalanxCore

/// Global average pooling over NCHW tensors.
public final class GlobalAvgPool: Layer {
    public let kind = "GlobalAvgPool"
    private var inputShape: [Int] = []
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A global average pool (it has no settings).
    public init() {}

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard s.count == 4 else {
            throw ShapeError(kind: kind, "expects input [N, C, H, W], got \(describe(s))")
        }
        guard s[2] > 0, s[3] > 0 else {
            throw ShapeError(kind: kind, "cannot average an empty \(s[2])×\(s[3]) plane (input \(describe(s)))")
        }
        return [s[0], s[1]]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        inputShape = x.shape
        let y = Tensor.reuse(&output, shape: shape)
        let plane = x.shape[2] * x.shape[3], scale = 1 / Float(plane)
        let px = x.data, py = y.data
        Parallel.forEach(y.count, grain: max(1, (1 << 15) / plane)) { r in
            for p in r { py[p] = rowSum(px + p * plane, plane) * scale }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        precondition(dy.shape == output?.shape,
                     "GlobalAvgPool.backward: output gradient \(describe(dy.shape)) does not match output \(describe(output?.shape ?? []))")
        let dx = Tensor.reuse(&inputGradient, shape: inputShape)
        let plane = inputShape[2] * inputShape[3], scale = 1 / Float(plane)
        let pdy = dy.data, pdx = dx.data
        Parallel.forEach(dy.count, grain: max(1, (1 << 15) / plane)) { r in
            for p in r { (pdx + p * plane).update(repeating: pdy[p] * scale, count: plane) }
        }
        return dx
    }
}
