// Loss functions: the protocol every loss implements, its targets, the batch-averaging
// rule they share, and the evaluation helpers (argmax accuracy, softmax probabilities)
// that the trainer and ensemble voting use.
//
// Averaging rule, the same for every loss: with ℓᵢ the loss of sample i (for an
// elementwise loss, the *mean* over that sample's M elements), wᵢ its weight (1 when no
// weights are given) and D the `normalizer` (else the local batch size N),
//
//     loss = Σᵢ wᵢ·ℓᵢ / D,        gradient = ∂loss/∂input.
//
// Without weights and normalizer this is PyTorch's `reduction="mean"` for
// CrossEntropyLoss, BCEWithLogitsLoss and MSELoss (mean over all N·M elements). A
// data-parallel rank holding n of a global batch of B samples passes `normalizer: B`,
// so that the sum of the ranks' gradients is the gradient of the global mean. Per-sample
// weights (AdaBoost) are *not* renormalised: pass `normalizer: Σwᵢ` for a weighted mean.
import Foundation
import PhalanxCore

/// What a loss compares its input with.
public enum LossTarget {
    /// One class index per sample, in `0..<classes`.
    case labels([Int32])
    /// A tensor with as many elements as the input: regression targets, probabilities
    /// for binary cross-entropy, or a soft target distribution for cross-entropy.
    case values(Tensor)
}

/// A differentiable scalar objective over a batch whose first dimension is the sample.
///
/// The loss object owns the returned gradient tensor and overwrites it on the next call.
public protocol Loss: AnyObject {
    /// The loss's name as users see it in configs and messages.
    var kind: String { get }

    /// The batch loss and its gradient with respect to `input`.
    ///
    /// - Parameters:
    ///   - input: the network's output, `[N, ...]`.
    ///   - target: labels or values, as the loss accepts.
    ///   - weights: one non-negative weight per sample (`N` values), or `nil` for 1.
    ///   - normalizer: the sample count to divide by instead of `N` (the global batch
    ///     size on a data-parallel rank), or `nil`.
    func evaluate(_ input: Tensor, target: LossTarget, weights: [Float]?,
                  normalizer: Float?) -> (loss: Float, gradient: Tensor)
}

extension Loss {
    /// The unweighted batch-mean loss and its gradient.
    public func evaluate(_ input: Tensor, target: LossTarget) -> (loss: Float, gradient: Tensor) {
        evaluate(input, target: target, weights: nil, normalizer: nil)
    }
}

/// The losses a configuration can name.
public enum LossKind: String, Codable, Sendable, CaseIterable {
    /// `SoftmaxCrossEntropy` on logits `[N, K]`.
    case crossEntropy = "cross_entropy"
    /// `BinaryCrossEntropy` on logits of any shape.
    case binaryCrossEntropy = "binary_cross_entropy"
    /// `MeanSquaredError`.
    case meanSquaredError = "mse"

    /// A new loss object of this kind.
    public func makeLoss() -> Loss {
        switch self {
        case .crossEntropy: SoftmaxCrossEntropy()
        case .binaryCrossEntropy: BinaryCrossEntropy()
        case .meanSquaredError: MeanSquaredError()
        }
    }
}

/// The shared averaging rule: how many samples, elements per sample, and the factor
/// 1/(D·M) that turns a weighted sum of element losses into the reported loss.
struct BatchAveraging {
    let samples: Int
    let elementsPerSample: Int
    let scale: Float

    /// Checks `weights` and `normalizer` for an input of `shape`; `perSample` overrides
    /// the elements per sample (1 for cross-entropy, whose row is one sample's loss).
    init(kind: String, shape: [Int], count: Int, weights: [Float]?, normalizer: Float?,
         elementsPerSample perSample: Int? = nil) {
        precondition(!shape.isEmpty, "\(kind): input must have a batch dimension, got a scalar")
        samples = shape[0]
        elementsPerSample = perSample ?? (samples > 0 ? count / samples : 0)
        if let weights {
            precondition(weights.count == samples,
                         "\(kind): \(weights.count) sample weights for a batch of \(samples) samples")
        }
        if let normalizer {
            precondition(normalizer > 0 && normalizer.isFinite,
                         "\(kind): normalizer must be a positive count, got \(normalizer)")
        }
        let d = Double(normalizer ?? Float(samples)) * Double(elementsPerSample)
        scale = d > 0 ? Float(1 / d) : 0
    }
}

/// Runs `body` with the weights' memory, or `nil` when there are none.
@inline(__always)
func withWeights<R>(_ weights: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let weights else { return body(nil) }
    return weights.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Sums per-chunk partial results of a parallel loop over `count` items in Double.
func parallelSum(_ count: Int, grain: Int, _ body: (Range<Int>) -> Double) -> Double {
    var partial = [Double](repeating: 0, count: Parallel.threads)
    partial.withUnsafeMutableBufferPointer { buf in
        let p = buf.baseAddress!
        Parallel.forChunks(count, grain: grain) { chunk, range in p[chunk] += body(range) }
    }
    return partial.reduce(0, +)
}

/// Writes the softmax of `row[0..<k]` into `out` (which may be `row`) and returns
/// log Σ exp(row), computed stably by subtracting the row maximum.
@inline(__always)
func softmaxRow(_ row: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ k: Int) -> Float {
    var m = row[0]
    for j in 1..<k where row[j] > m { m = row[j] }
    var s: Float = 0
    for j in 0..<k {
        let e = exp(row[j] - m)
        out[j] = e
        s += e
    }
    let inv = 1 / s
    for j in 0..<k { out[j] *= inv }
    return m + log(s)
}

/// The number of rows of `logits` `[N, K]` whose largest entry (the first, on ties) is at
/// the sample's label: the numerator of classification accuracy.
public func correctCount(logits: Tensor, labels: [Int32]) -> Int {
    precondition(logits.rank == 2, "correctCount: logits must be [N, K], got \(describe(logits.shape))")
    let n = logits.shape[0], k = logits.shape[1]
    precondition(labels.count == n, "correctCount: \(labels.count) labels for \(n) rows of logits")
    guard k > 0 else { return 0 }
    var correct = 0
    for i in 0..<n {
        let row = logits.data + i * k
        var best = 0
        for j in 1..<k where row[j] > row[best] { best = j }
        if best == Int(labels[i]) { correct += 1 }
    }
    return correct
}

/// Writes the row-wise softmax of `logits` `[N, K]` into `probabilities` (resized to
/// `[N, K]`): class probabilities for evaluation and soft-vote ensembles.
public func softmaxProbabilities(_ logits: Tensor, into probabilities: Tensor) {
    precondition(logits.rank == 2, "softmaxProbabilities: logits must be [N, K], got \(describe(logits.shape))")
    probabilities.resize(logits.shape)
    let n = logits.shape[0], k = logits.shape[1]
    guard k > 0 else { return }
    let x = logits.data, p = probabilities.data
    Parallel.forEach(n, grain: max(1, Vector.grain / k)) { rows in
        for i in rows { _ = softmaxRow(x + i * k, p + i * k, k) }
    }
}
