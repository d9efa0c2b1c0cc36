// L1, L2 and elastic-net penalties on the weights, applied by every optimizer.
//
// The penalised objective is  L(θ) + λ₁‖θ‖₁ + λ₂‖θ‖₂²  over parameters with
// `decays == true` (weights; not biases or normalisation scales). Before its update
// an optimizer replaces the gradient g by
//     g + 2λ₂·θ + λ₁·sign θ        (sign 0 = 0, the subgradient at the kink),
// so with plain SGD:  θ ← (1 − 2ρλ₂)·θ − ρλ₁·sign θ − ρg.
// PyTorch's `weight_decay = wd` adds wd·θ to the gradient: wd = 2λ₂.
//
// L2 weight decay: Krogh & Hertz, "A Simple Weight Decay Can Improve Generalization"
// (NIPS 1991). L1 (lasso): Tibshirani, "Regression Shrinkage and Selection via the
// Lasso" (1996). Elastic net: Zou & Hastie, "Regularization and Variable Selection via
// the Elastic Net" (2005). Left out: decoupled decay (AdamW) and proximal L1 steps.
import Foundation
import PhalanxCore

/// Penalty coefficients: `l1` (λ₁) on Σ|θ| and `l2` (λ₂) on Σθ²; both zero is none.
public struct Regularization: Codable, Equatable, Sendable {
    /// λ₁, the weight of the L1 norm.
    public var l1: Float
    /// λ₂, the weight of the squared L2 norm (PyTorch weight_decay / 2).
    public var l2: Float

    /// Penalties with the given coefficients, each non-negative.
    public init(l1: Float = 0, l2: Float = 0) {
        precondition(l1 >= 0 && l2 >= 0 && l1.isFinite && l2.isFinite,
                     "Regularization: coefficients must be finite and non-negative (l1 \(l1), l2 \(l2))")
        self.l1 = l1
        self.l2 = l2
    }

    /// No penalty.
    public static let none = Regularization()

    /// The squared L2 norm weighted by `lambda`.
    public static func l2(_ lambda: Float) -> Regularization { Regularization(l2: lambda) }

    /// The L1 norm weighted by `lambda`.
    public static func l1(_ lambda: Float) -> Regularization { Regularization(l1: lambda) }

    /// Elastic net: both penalties.
    public static func elasticNet(l1: Float, l2: Float) -> Regularization { Regularization(l1: l1, l2: l2) }

    /// Whether any coefficient is non-zero.
    public var isActive: Bool { l1 != 0 || l2 != 0 }

    enum CodingKeys: String, CodingKey { case l1, l2 }

    /// Decodes `l1` and `l2`, each optional (default 0), rejecting negative values.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        l1 = try c.decodeIfPresent(Float.self, forKey: .l1) ?? 0
        l2 = try c.decodeIfPresent(Float.self, forKey: .l2) ?? 0
        for (key, value) in [(CodingKeys.l1, l1), (.l2, l2)] where !(value >= 0 && value.isFinite) {
            throw DecodingError.dataCorruptedError(forKey: key, in: c,
                debugDescription: "penalty \(key.stringValue) must be finite and non-negative, got \(value)")
        }
    }

    /// Writes `gradient + 2λ₂·value + λ₁·sign(value)` into `output` (which may be `gradient`).
    public func penalizedGradient(value: Tensor, gradient: Tensor, into output: Tensor) {
        precondition(value.count == gradient.count && value.count == output.count,
                     "Regularization: value, gradient and output counts differ")
        let v = value.data, g = gradient.data, o = output.data
        let twoL2 = 2 * l2, l1 = self.l1
        Parallel.forEach(value.count, grain: Vector.grain) { r in
            for i in r {
                let x = v[i]
                let sign: Float = x > 0 ? 1 : (x < 0 ? -1 : 0)
                o[i] = g[i] + twoL2 * x + l1 * sign
            }
        }
    }

    /// λ₁‖θ‖₁ + λ₂‖θ‖₂² over the trainable parameters that decay, in Double — the term
    /// to add to the data loss when reporting the penalised objective.
    public func penalty(_ parameters: [Parameter]) -> Double {
        guard isActive else { return 0 }
        var l1Sum = 0.0, l2Sum = 0.0
        for p in parameters where p.requiresGrad && p.decays {
            let v = p.value.data
            for i in 0..<p.count {
                l1Sum += Double(abs(v[i]))
                l2Sum += Double(v[i]) * Double(v[i])
            }
        }
        return Double(l1) * l1Sum + Double(l2) * l2Sum
    }
}
