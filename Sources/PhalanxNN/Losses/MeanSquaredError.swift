// Mean squared error, as PyTorch's nn.MSELoss (reduction="mean").
//
// For input x and target t of the same element count, ℓ = (x − t)², ∂ℓ/∂x = 2(x − t),
// averaged over all N·M elements, with weights and normalizer applied per sample as in
// `Loss`. Left out: reduction="sum" (pass a normalizer instead) and broadcasting.
import Foundation
import PhalanxCore

/// The squared difference between input and target, averaged over all elements.
public final class MeanSquaredError: Loss {
    public let kind = "MeanSquaredError"
    private var gradient: Tensor?

    /// A mean-squared-error loss; it keeps its gradient buffer between calls.
    public init() {}

    public func evaluate(_ input: Tensor, target: LossTarget, weights: [Float]?,
                         normalizer: Float?) -> (loss: Float, gradient: Tensor) {
        guard case .values(let t) = target else {
            preconditionFailure("\(kind): needs value targets (.values), not class labels")
        }
        precondition(t.count == input.count,
                     "\(kind): target \(describe(t.shape)) does not match input \(describe(input.shape))")
        let avg = BatchAveraging(kind: kind, shape: input.shape, count: input.count,
                                 weights: weights, normalizer: normalizer)
        let g = Tensor.reuse(&gradient, shape: input.shape)
        let m = avg.elementsPerSample
        guard avg.samples > 0, m > 0 else { return (0, g) }
        let x = input.data, tp = t.data, gp = g.data
        let total = withWeights(weights) { w in
            parallelSum(avg.samples, grain: max(1, Vector.grain / m)) { samples in
                var sum = 0.0
                for i in samples {
                    let weight = w?[i] ?? 1
                    let s = 2 * weight * avg.scale
                    var sampleLoss: Float = 0
                    for e in i * m ..< (i + 1) * m {
                        let d = x[e] - tp[e]
                        sampleLoss += d * d
                        gp[e] = s * d
                    }
                    sum += Double(weight) * Double(sampleLoss)
                }
                return sum
            }
        }
        return (Float(total * Double(avg.scale)), g)
    }
}
