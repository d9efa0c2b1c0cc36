// Adam: bias-corrected running means of the gradient and of its square.
//
// Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015), Algorithm 1:
//     m ← β₁m + (1 − β₁)g;   v ← β₂v + (1 − β₂)g²;
//     m̂ = m / (1 − β₁ᵗ);     v̂ = v / (1 − β₂ᵗ);     θ ← θ − ρ·m̂ / (√v̂ + ε),
// with ε outside the square root, as PyTorch's Adam (β₁ 0.9, β₂ 0.999, ε 1e-8, no
// amsgrad). An L2 penalty enters through the gradient as PyTorch's weight_decay does
// (this is Adam with L2, not AdamW). State slots "exp_avg" (m) and "exp_avg_sq" (v),
// PyTorch's names.
import Foundation
import PhalanxCore

/// Adam with bias correction.
public final class Adam: OptimizerBase {
    override public var kind: String { "Adam" }
    /// β₁, the decay of the running mean of gradients.
    public let beta1: Float
    /// β₂, the decay of the running mean of squared gradients.
    public let beta2: Float
    /// ε, added to √v̂.
    public let epsilon: Float

    /// Adam with step size `learningRate`, decays β₁, β₂ in [0, 1) and `epsilon`
    /// (defaults from the paper and PyTorch).
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, regularization: Regularization = .none) {
        precondition(beta1 >= 0 && beta1 < 1, "Adam: beta1 must be in [0, 1), got \(beta1)")
        precondition(beta2 >= 0 && beta2 < 1, "Adam: beta2 must be in [0, 1), got \(beta2)")
        precondition(epsilon >= 0, "Adam: epsilon must be non-negative, got \(epsilon)")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        super.init(learningRate: learningRate, regularization: regularization)
    }

    override public var slotNames: [String] { ["exp_avg", "exp_avg_sq"] }

    override public func update(value: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                                slots: [Tensor], range: Range<Int>, step: Int) {
        // Bias corrections in Double: β₂ᵗ loses digits in Float over long runs.
        let correction1 = 1 - pow(Double(beta1), Double(step))
        let correction2 = 1 - pow(Double(beta2), Double(step))
        let stepSize = Float(Double(learningRate) / correction1)
        let invSqrtCorrection2 = Float(1 / correction2.squareRoot())
        let b1 = beta1, b2 = beta2, c1 = 1 - beta1, c2 = 1 - beta2, eps = epsilon
        let m = slots[0].data, v = slots[1].data
        for i in range {
            let g = gradient[i]
            let mi = b1 * m[i] + c1 * g
            let vi = b2 * v[i] + c2 * g * g
            m[i] = mi
            v[i] = vi
            value[i] -= stepSize * mi / (vi.squareRoot() * invSqrtCorrection2 + eps)
        }
    }
}
