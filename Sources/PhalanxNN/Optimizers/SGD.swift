// Stochastic gradient descent, with classical or Nesterov momentum.
//
// Plain:     θ ← θ − ρg.
// Momentum (Polyak, "Some methods of speeding up the convergence of iteration methods",
// 1964; in the form of Sutskever, Martens, Dahl & Hinton, "On the importance of
// initialization and momentum in deep learning", ICML 2013):
//     v ← αv − ρg;   θ ← θ + v.
// Nesterov (Nesterov 1983, as reformulated by Sutskever et al. 2013 and in Bengio,
// Boulanger-Lewandowski & Pascanu, "Advances in optimizing recurrent networks", 2013):
//     v ← αv − ρg;   θ ← θ + αv − ρg      (v already updated).
// With a constant ρ these equal PyTorch's SGD(momentum=α, nesterov=…), whose buffer is
// b = −v/ρ; when ρ changes they differ (here the velocity keeps the old rates).
// The state slot is "momentum" (v, in parameter units; not PyTorch's momentum_buffer).
import PhalanxCore

/// Stochastic gradient descent with optional classical or Nesterov momentum.
public final class SGD: OptimizerBase {
    override public var kind: String { "SGD" }
    /// α, the fraction of the velocity kept from one step to the next (0: none).
    public let momentum: Float
    /// Whether the update looks ahead along the velocity (Nesterov momentum).
    public let nesterov: Bool

    /// SGD with step size `learningRate`, momentum α in [0, 1) and optional Nesterov
    /// look-ahead (which needs α > 0).
    public init(learningRate: Float, momentum: Float = 0, nesterov: Bool = false,
                regularization: Regularization = .none) {
        precondition(momentum >= 0 && momentum < 1, "SGD: momentum must be in [0, 1), got \(momentum)")
        precondition(!nesterov || momentum > 0, "SGD: Nesterov momentum needs momentum > 0")
        self.momentum = momentum
        self.nesterov = nesterov
        super.init(learningRate: learningRate, regularization: regularization)
    }

    override public var slotNames: [String] { momentum > 0 ? ["momentum"] : [] }

    override public func update(value: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                                slots: [Tensor], range: Range<Int>, step: Int) {
        let rho = learningRate, alpha = momentum
        if alpha == 0 {
            for i in range { value[i] -= rho * gradient[i] }
            return
        }
        let v = slots[0].data
        if nesterov {
            for i in range {
                let descent = -rho * gradient[i]
                let vi = alpha * v[i] + descent
                v[i] = vi
                value[i] += alpha * vi + descent
            }
        } else {
            for i in range {
                let vi = alpha * v[i] - rho * gradient[i]
                v[i] = vi
                value[i] += vi
            }
        }
    }
}
