// Elementwise activations: ReLU, LeakyReLU, Tanh and Sigmoid (PyTorch semantics).
//
// Shape-preserving for tensors of any rank. Each layer keeps the tensor its backward
// needs (the input for the rectifiers, the output for tanh and the sigmoid, whose
// derivatives are functions of it) and runs over the elements in parallel chunks.
// The subgradient at the kink of a rectifier is taken as the left one (x ≤ 0),
// as PyTorch does.
import Foundation
import PhalanxCore

/// Runs `body` over the elements `0..<count` in parallel chunks when the tensor is large.
@inline(__always)
func forEachElement(_ count: Int, _ body: (Range<Int>) -> Void) {
    Parallel.forEach(count, grain: Vector.grain, body)
}

/// Rectified linear unit, y = max(x, 0); NaN passes through.
public final class ReLU: Layer {
    public let kind = "ReLU"
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A rectifier (no parameters).
    public init() {}

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] { inputShape }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        input = x
        let y = Tensor.reuse(&output, shape: x.shape)
        let px = x.data, py = y.data
        forEachElement(x.count) { r in
            for i in r { let v = px[i]; py[i] = v < 0 ? 0 : v }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("ReLU.backward before forward") }
        precondition(dy.count == x.count, "ReLU.backward: gradient \(describe(dy.shape)) does not match input \(describe(x.shape))")
        let dx = Tensor.reuse(&inputGradient, shape: x.shape)
        let px = x.data, pdy = dy.data, pdx = dx.data
        forEachElement(x.count) { r in
            // Both loads happen unconditionally so the select vectorises (a branch on the
            // sign of x mispredicts half the time).
            for i in r { let g = pdy[i]; pdx[i] = px[i] > 0 ? g : 0 }
        }
        return dx
    }
}

/// Leaky rectifier, y = x for x > 0 and `slope`·x otherwise (PyTorch's `negative_slope`).
public final class LeakyReLU: Layer {
    public let kind = "LeakyReLU"
    /// The gradient for negative inputs.
    public let slope: Float
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A leaky rectifier with the given negative slope (default 0.01, as PyTorch).
    public init(slope: Float = 0.01) {
        self.slope = slope
    }

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] { inputShape }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        input = x
        let y = Tensor.reuse(&output, shape: x.shape)
        let px = x.data, py = y.data, a = slope
        forEachElement(x.count) { r in
            for i in r { let v = px[i]; py[i] = v > 0 ? v : a * v }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("LeakyReLU.backward before forward") }
        precondition(dy.count == x.count, "LeakyReLU.backward: gradient \(describe(dy.shape)) does not match input \(describe(x.shape))")
        let dx = Tensor.reuse(&inputGradient, shape: x.shape)
        let px = x.data, pdy = dy.data, pdx = dx.data, a = slope
        forEachElement(x.count) { r in
            for i in r { let g = pdy[i]; pdx[i] = px[i] > 0 ? g : a * g }
        }
        return dx
    }
}

/// Hyperbolic tangent, y = tanh(x); dy/dx = 1 − y².
public final class Tanh: Layer {
    public let kind = "Tanh"
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A tanh activation (no parameters).
    public init() {}

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] { inputShape }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let y = Tensor.reuse(&output, shape: x.shape)
        let px = x.data, py = y.data
        forEachElement(x.count) { r in
            Vector.tanh(px + r.lowerBound, py + r.lowerBound, count: r.count)
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = output else { preconditionFailure("Tanh.backward before forward") }
        precondition(dy.count == y.count, "Tanh.backward: gradient \(describe(dy.shape)) does not match output \(describe(y.shape))")
        let dx = Tensor.reuse(&inputGradient, shape: y.shape)
        let py = y.data, pdy = dy.data, pdx = dx.data
        forEachElement(y.count) { r in
            for i in r { let v = py[i]; pdx[i] = pdy[i] * (1 - v * v) }
        }
        return dx
    }
}

/// Logistic sigmoid, y = 1 / (1 + e^(−x)); dy/dx = y·(1 − y).
public final class Sigmoid: Layer {
    public let kind = "Sigmoid"
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A sigmoid activation (no parameters).
    public init() {}

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] { inputShape }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let y = Tensor.reuse(&output, shape: x.shape)
        let px = x.data, py = y.data
        forEachElement(x.count) { r in
            // e^(−x) overflows to +inf for x < −88, giving the correct limit 0.
            Vector.sigmoid(px + r.lowerBound, py + r.lowerBound, count: r.count)
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = output else { preconditionFailure("Sigmoid.backward before forward") }
        precondition(dy.count == y.count, "Sigmoid.backward: gradient \(describe(dy.shape)) does not match output \(describe(y.shape))")
        let dx = Tensor.reuse(&inputGradient, shape: y.shape)
        let py = y.data, pdy = dy.data, pdx = dx.data
        forEachElement(y.count) { r in
            for i in r { let v = py[i]; pdx[i] = pdy[i] * v * (1 - v) }
        }
        return dx
    }
}
