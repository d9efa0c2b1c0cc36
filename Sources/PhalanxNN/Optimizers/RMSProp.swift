// RMSProp: steps divided by a running root-mean-square of recent gradients.
//
// Tieleman & Hinton, "Lecture 6.5 — RMSProp: divide the gradient by a running average of
// its recent magnitude", COURSERA: Neural Networks for Machine Learning (2012):
//     E ← βE + (1 − β)g²;   θ ← θ − ρ·g / (√E + ε),
// as PyTorch's RMSprop without momentum or centering (alpha β = 0.99, eps 1e-8, ε
// outside the square root, E starting at 0). The state slot is "square_avg" (E),
// PyTorch's name.
import Foundation
import PhalanxCore

/// RMSProp: each element's step divided by the root of a running mean of g².
public final class RMSProp: OptimizerBase {
    override public var kind: String { "RMSProp" }
    /// β, the decay of the running mean of squared gradients (PyTorch's `alpha`).
    public let decay: Float
    /// ε, added to √E.
    public let epsilon: Float

    /// RMSProp with step size `learningRate` (PyTorch's default 0.01), decay β in [0, 1)
    /// and `epsilon`.
    public init(learningRate: Float = 0.01, decay: Float = 0.99, epsilon: Float = 1e-8,
                regularization: Regularization = .none) {
        precondition(decay >= 0 && decay < 1, "RMSProp: decay must be in [0, 1), got \(decay)")
        precondition(epsilon >= 0, "RMSProp: epsilon must be non-negative, got \(epsilon)")
        self.decay = decay
        self.epsilon = epsilon
        super.init(learningRate: learningRate, regularization: regularization)
    }

    override public var slotNames: [String] { ["square_avg"] }

    override public func update(value: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                                slots: [Tensor], range: Range<Int>, step: Int) {
        let rho = learningRate, beta = decay, oneMinusBeta = 1 - decay, eps = epsilon
        let e = slots[0].data
        for i in range {
            let g = gradient[i]
            let s = beta * e[i] + oneMinusBeta * g * g
            e[i] = s
            value[i] -= rho * g / (s.squareRoot() + eps)
        }
    }
}
