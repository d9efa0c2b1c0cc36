// Softmax cross-entropy on logits: softmax and negative log-likelihood fused, as
// PyTorch's nn.CrossEntropyLoss (Caffe's SoftmaxWithLoss).
//
// For a row x of K logits with label y:
//     ℓ = log Σₖ exp(xₖ) − x_y,        ∂ℓ/∂xₖ = softmax(x)ₖ − [k = y].
// log Σ exp is taken after subtracting the row maximum, so logits of ±1000 give a finite
// loss. With a soft target distribution t (`.values`), ℓ = Σₖ tₖ·(log Σ exp(x) − xₖ)
// and ∂ℓ/∂xₖ = softmax(x)ₖ·Σⱼtⱼ − tₖ. Averaging over the batch follows `Loss`.
// Left out: class weights, label smoothing and an ignore index.
import Foundation
import PhalanxCore

/// Fused softmax and cross-entropy on logits `[N, K]` with integer or soft targets.
public final class SoftmaxCrossEntropy: Loss {
    public let kind = "SoftmaxCrossEntropy"
    private var gradient: Tensor?

    /// A cross-entropy loss; it keeps its gradient buffer between calls.
    public init() {}

    public func evaluate(_ input: Tensor, target: LossTarget, weights: [Float]?,
                         normalizer: Float?) -> (loss: Float, gradient: Tensor) {
        precondition(input.rank == 2, "\(kind): logits must be [N, K], got \(describe(input.shape))")
        let n = input.shape[0], k = input.shape[1]
        precondition(k > 0 || n == 0, "\(kind): logits \(describe(input.shape)) have no classes")
        let avg = BatchAveraging(kind: kind, shape: input.shape, count: input.count,
                                 weights: weights, normalizer: normalizer, elementsPerSample: 1)
        let g = Tensor.reuse(&gradient, shape: input.shape)
        let grain = max(1, Vector.grain / max(k, 1))
        let total: Double
        switch target {
        case .labels(let labels):
            precondition(labels.count == n, "\(kind): \(labels.count) labels for \(n) rows of logits")
            total = labels.withUnsafeBufferPointer { y in
                withWeights(weights) { w in
                    labelLoss(input.data, g.data, n, k, y.baseAddress, w, avg.scale, grain)
                }
            }
        case .values(let t):
            precondition(t.count == input.count,
                         "\(kind): target \(describe(t.shape)) does not match logits \(describe(input.shape))")
            total = withWeights(weights) { w in
                softTargetLoss(input.data, t.data, g.data, n, k, w, avg.scale, grain)
            }
        }
        return (Float(total * Double(avg.scale)), g)
    }

    /// Σᵢ wᵢ·ℓᵢ for integer labels, writing the scaled gradient into `g`.
    private func labelLoss(_ x: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                           _ n: Int, _ k: Int, _ labels: UnsafePointer<Int32>?,
                           _ w: UnsafePointer<Float>?, _ scale: Float, _ grain: Int) -> Double {
        guard n > 0, let labels else { return 0 }
        for i in 0..<n {
            precondition(labels[i] >= 0 && Int(labels[i]) < k,
                         "\(kind): label \(labels[i]) of sample \(i) is outside 0..<\(k) (the logits have \(k) classes)")
        }
        return parallelSum(n, grain: grain) { rows in
            var sum = 0.0
            for i in rows {
                let row = x + i * k, grow = g + i * k
                let y = Int(labels[i])
                let weight = w?[i] ?? 1
                let lse = softmaxRow(row, grow, k)
                sum += Double(weight) * Double(lse - row[y])
                let s = weight * scale
                for j in 0..<k { grow[j] *= s }
                grow[y] -= s
            }
            return sum
        }
    }

    /// Σᵢ wᵢ·ℓᵢ for soft targets `t`, writing the scaled gradient into `g`.
    private func softTargetLoss(_ x: UnsafeMutablePointer<Float>, _ t: UnsafeMutablePointer<Float>,
                                _ g: UnsafeMutablePointer<Float>, _ n: Int, _ k: Int,
                                _ w: UnsafePointer<Float>?, _ scale: Float, _ grain: Int) -> Double {
        guard n > 0 else { return 0 }
        return parallelSum(n, grain: grain) { rows in
            var sum = 0.0
            for i in rows {
                let row = x + i * k, grow = g + i * k, trow = t + i * k
                let weight = w?[i] ?? 1
                let lse = softmaxRow(row, grow, k)
                var rowLoss = 0.0, mass: Float = 0
                for j in 0..<k {
                    rowLoss += Double(trow[j]) * Double(lse - row[j])
                    mass += trow[j]
                }
                sum += Double(weight) * rowLoss
                let s = weight * scale
                for j in 0..<k { grow[j] = s * (grow[j] * mass - trow[j]) }
            }
            return sum
        }
    }
}
