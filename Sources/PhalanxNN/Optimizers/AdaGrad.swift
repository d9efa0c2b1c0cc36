// AdaGrad: per-element step sizes shrinking with the accumulated squared gradients.
//
// Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and
// Stochastic Optimization" (JMLR 2011):
//     G ← G + g²;   θ ← θ − ρ·g / (√G + ε),
// as PyTorch's Adagrad with lr_decay = 0 and initial_accumulator_value = 0 (ε outside
// the square root, default 1e-10). The state slot is "sum" (G), PyTorch's name.
import Foundation
import PhalanxCore

/// AdaGrad: each element's step divided by the root of its summed squared gradients.
public final class AdaGrad: OptimizerBase {
    override public var kind: String { "AdaGrad" }
    /// ε, added to √G so the first steps stay finite.
    public let epsilon: Float

    /// AdaGrad with step size `learningRate` (PyTorch's default 0.01) and `epsilon`.
    public init(learningRate: Float = 0.01, epsilon: Float = 1e-10,
                regularization: Regularization = .none) {
        precondition(epsilon >= 0, "AdaGrad: epsilon must be non-negative, got \(epsilon)")
        self.epsilon = epsilon
        super.init(learningRate: learningRate, regularization: regularization)
    }

    override public var slotNames: [String] { ["sum"] }

    override public func update(value: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                                slots: [Tensor], range: Range<Int>, step: Int) {
        let rho = learningRate, eps = epsilon
        let sum = slots[0].data
        for i in range {
            let g = gradient[i]
            let s = sum[i] + g * g
            sum[i] = s
            value[i] -= rho * g / (s.squareRoot() + eps)
        }
    }
}
