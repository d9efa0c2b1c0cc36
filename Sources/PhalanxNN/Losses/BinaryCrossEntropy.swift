// Binary cross-entropy on logits (sigmoid fused in), as PyTorch's nn.BCEWithLogitsLoss.
//
// For a logit x and a target probability t ∈ [0, 1], in the stable form
//     ℓ = max(x, 0) − x·t + log(1 + e^{−|x|}),        ∂ℓ/∂x = σ(x) − t,
// which never exponentiates a positive number. The input has any shape [N, ...]; each
// element is one binary decision, and the loss is the mean over all N·M elements
// (PyTorch's reduction="mean"), with weights and normalizer applied per sample as in
// `Loss`. Integer labels 0/1 are accepted when there is one logit per label.
// Left out: pos_weight and per-element weights.
import Foundation
import PhalanxCore

/// Sigmoid and binary cross-entropy fused, on logits of any shape.
public final class BinaryCrossEntropy: Loss {
    public let kind = "BinaryCrossEntropy"
    private var gradient: Tensor?
    private var labelTargets: Tensor?

    /// A binary cross-entropy loss; it keeps its gradient buffer between calls.
    public init() {}

    public func evaluate(_ input: Tensor, target: LossTarget, weights: [Float]?,
                         normalizer: Float?) -> (loss: Float, gradient: Tensor) {
        let avg = BatchAveraging(kind: kind, shape: input.shape, count: input.count,
                                 weights: weights, normalizer: normalizer)
        let g = Tensor.reuse(&gradient, shape: input.shape)
        let t: Tensor
        switch target {
        case .values(let values):
            precondition(values.count == input.count,
                         "\(kind): target \(describe(values.shape)) does not match input \(describe(input.shape))")
            let tp = values.data
            for i in 0..<values.count {
                precondition(tp[i] >= 0 && tp[i] <= 1, "\(kind): target \(tp[i]) at element \(i) is outside [0, 1]")
            }
            t = values
        case .labels(let labels):
            precondition(labels.count == input.count,
                         "\(kind): \(labels.count) labels for input \(describe(input.shape)); labels need one logit each")
            t = Tensor.reuse(&labelTargets, shape: [labels.count])
            for (i, y) in labels.enumerated() {
                precondition(y == 0 || y == 1, "\(kind): label \(y) of element \(i) is not 0 or 1")
                t[i] = Float(y)
            }
        }
        let total = withWeights(weights) { w in accumulate(input.data, t.data, g.data, avg, w) }
        return (Float(total * Double(avg.scale)), g)
    }

    /// Σ wᵢ·ℓ over all elements of logits `x` and targets `t`, writing the scaled
    /// gradient into `g`.
    private func accumulate(_ x: UnsafeMutablePointer<Float>, _ t: UnsafeMutablePointer<Float>,
                            _ g: UnsafeMutablePointer<Float>, _ avg: BatchAveraging,
                            _ w: UnsafePointer<Float>?) -> Double {
        let m = avg.elementsPerSample
        guard avg.samples > 0, m > 0 else { return 0 }
        return parallelSum(avg.samples, grain: max(1, Vector.grain / m)) { samples in
            var sum = 0.0
            for i in samples {
                let weight = w?[i] ?? 1
                let s = weight * avg.scale
                var sampleLoss = 0.0
                for e in i * m ..< (i + 1) * m {
                    let xe = x[e], te = t[e]
                    let z = exp(-abs(xe))
                    sampleLoss += Double(max(xe, 0) - xe * te + log1p(z))
                    // σ(x) from the same exponential: 1/(1+z) for x ≥ 0, z/(1+z) below.
                    let sigma = xe >= 0 ? 1 / (1 + z) : z / (1 + z)
                    g[e] = s * (sigma - te)
                }
                sum += Double(weight) * sampleLoss
            }
            return sum
        }
    }
}
