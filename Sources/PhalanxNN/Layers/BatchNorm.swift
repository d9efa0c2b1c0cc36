// Batch normalisation (Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network
// Training by Reducing Internal Covariate Shift", 2015), PyTorch's BatchNorm1d/2d.
//
// Per channel c: y = γ_c · (x − μ_c) / √(σ²_c + ε) + β_c, over input [N, C] (1d),
// [N, C, L] (1d) or [N, C, H, W] (2d). Training normalises with the batch statistics
// (biased variance) and updates the running ones with the unbiased variance, as
// PyTorch does; evaluation uses the running statistics. Backward goes through the
// batch statistics. Statistics are formed from per-channel sums, accumulated in
// Double, which a hook may sum across processes (synchronised batch norm).
// Left out: PyTorch's momentum = None (cumulative average) and affine = false.
import PhalanxCore

/// Batch normalisation over channel dimension 1, with running statistics.
///
/// **Synchronised batch norm.** `reduceStatistics`, when set, is called with a buffer
/// of per-channel sums and must replace each element by its sum over all processes
/// (an allreduce-sum). It is called twice a training step:
/// - in `forward` (training mode) with 2C + 1 elements: Σx for each channel, then Σx²
///   for each channel, then the element count per channel; mean and variance are
///   derived from the reduced sums, so every process normalises with the global batch;
/// - in `backward` (after a training forward) with 2C elements: Σdy for each channel,
///   then Σdy·x̂ for each channel; the input gradient uses the reduced sums and the
///   count from forward. The parameter gradients (dγ = Σdy·x̂, dβ = Σdy) are accumulated
///   from the *local* sums before the call, so the gradient reducer averages them like
///   any other parameter.
/// With the hook nil this is a plain local batch norm. It is never called in evaluation.
public final class BatchNorm: Layer {
    public let kind = "BatchNorm"
    /// The channel count C.
    public let features: Int
    /// Added to the variance before the square root.
    public let eps: Float
    /// Weight of the new batch statistic in the running average (1/b for the b-th
    /// batch gives the cumulative average, as PyTorch's momentum = None).
    public var momentum: Float
    /// γ, PyTorch's `weight` [C], starts at 1; not weight-decayed.
    public let weight: Parameter
    /// β, PyTorch's `bias` [C], starts at 0; not weight-decayed.
    public let bias: Parameter
    /// `running_mean` [C], starts at 0.
    public let runningMean: Buffer
    /// `running_var` [C] (unbiased), starts at 1.
    public let runningVar: Buffer
    /// `num_batches_tracked` [] (saved as int64; exact as Float up to 2²⁴ steps).
    public let numBatchesTracked: Buffer
    /// Sums per-channel statistics across processes; see the type's documentation.
    public var reduceStatistics: ((UnsafeMutableBufferPointer<Double>) -> Void)?

    /// Per-channel sums handed to `reduceStatistics`, [2C + 1].
    private let sums: UnsafeMutableBufferPointer<Double>
    /// 1/√(σ² + ε) per channel from the last forward, [C].
    private let invStd: UnsafeMutableBufferPointer<Double>
    /// The element count per channel behind the last training forward (global with the hook).
    private var statisticsCount = 0.0
    /// x̂ from the last forward, the input's shape.
    private var normalized: Tensor?
    private var lastMode = Mode.training
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A batch norm over `features` channels, with PyTorch's defaults.
    public init(features: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        precondition(features > 0, "BatchNorm: features must be positive")
        precondition(eps > 0, "BatchNorm: eps must be positive")
        self.features = features
        self.eps = eps
        self.momentum = momentum
        weight = Parameter(name: "weight", value: Tensor(shape: [features], repeating: 1), decays: false)
        bias = Parameter(name: "bias", value: Tensor(shape: [features]), decays: false)
        runningMean = Buffer(name: "running_mean", value: Tensor(shape: [features]))
        runningVar = Buffer(name: "running_var", value: Tensor(shape: [features], repeating: 1))
        numBatchesTracked = Buffer(name: "num_batches_tracked", value: Tensor(shape: []), storageType: .int64)
        sums = .allocate(capacity: 2 * features + 1)
        sums.initialize(repeating: 0)
        invStd = .allocate(capacity: features)
        invStd.initialize(repeating: 0)
    }

    deinit {
        sums.deallocate()
        invStd.deallocate()
    }

    public var parameters: [Parameter] { [weight, bias] }
    public var buffers: [Buffer] { [runningMean, runningVar, numBatchesTracked] }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard (2...4).contains(s.count) else {
            throw ShapeError(kind: kind, "expects input [N, \(features)], [N, \(features), L] or [N, \(features), H, W], got \(describe(s))")
        }
        guard s[1] == features else {
            throw ShapeError(kind: kind, "has \(features) channels but the input has \(s[1]) (input \(describe(s)))")
        }
        return s
    }

    /// Runs `body(channels)` over chunks of channels, in parallel when the input is large.
    private func forEachChannelChunk(_ n: Int, _ inner: Int, _ body: (Range<Int>) -> Void) {
        Parallel.forEach(features, grain: max(1, Vector.grain / max(n * inner, 1)), body)
    }

    /// Runs `body(planes)` over chunks of the N·C contiguous planes of `inner` elements.
    private func forEachPlaneChunk(_ n: Int, _ inner: Int, _ body: (Range<Int>) -> Void) {
        Parallel.forEach(n * features, grain: max(1, Vector.grain / max(inner, 1)), body)
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        let n = shape[0], c = features, inner = x.count / max(n * c, 1)
        let mean = sums.baseAddress!  // after the statistics pass: μ per channel
        let inv = invStd.baseAddress!
        lastMode = mode
        if mode == .training {
            batchStatistics(x, n: n, inner: inner)
        } else {
            let rm = runningMean.value.data, rv = runningVar.value.data
            for ch in 0..<c {
                mean[ch] = Double(rm[ch])
                inv[ch] = 1 / (Double(rv[ch]) + Double(eps)).squareRoot()
            }
        }
        let xhat = Tensor.reuse(&normalized, shape: shape)
        let y = Tensor.reuse(&output, shape: shape)
        let px = x.data, ph = xhat.data, py = y.data
        let gamma = weight.value.data, beta = bias.value.data
        forEachPlaneChunk(n, inner) { planes in
            for p in planes {
                let ch = p % c, base = p * inner
                Vector.normalize(px + base, count: inner, mean: Float(mean[ch]), scale: Float(inv[ch]), gain: gamma[ch],
                                 shift: beta[ch], normalized: ph + base, into: py + base)
            }
        }
        return y
    }

    /// Training statistics: fills `sums`, lets the hook reduce them, leaves μ in
    /// `sums[0..<C]` and 1/√(σ² + ε) in `invStd`, and updates the running statistics.
    private func batchStatistics(_ x: Tensor, n: Int, inner: Int) {
        let c = features, px = x.data, s = sums.baseAddress!
        forEachChannelChunk(n, inner) { channels in
            for ch in channels { s[ch] = 0; s[c + ch] = 0 }
            for i in 0..<n {
                for ch in channels {
                    let (sx, sxx) = Vector.moments(px + (i * c + ch) * inner, count: inner)
                    s[ch] += sx
                    s[c + ch] += sxx
                }
            }
        }
        s[2 * c] = Double(n * inner)
        reduceStatistics?(sums)
        let m = s[2 * c]
        precondition(m > 1, "BatchNorm: training needs more than one value per channel, got input [N = \(n), C = \(c)] with \(inner) element(s) per plane")
        statisticsCount = m
        let rm = runningMean.value.data, rv = runningVar.value.data
        let keep = 1 - Double(momentum), mom = Double(momentum)
        for ch in 0..<c {
            let mu = s[ch] / m
            let variance = max(s[c + ch] / m - mu * mu, 0)
            s[ch] = mu
            invStd[ch] = 1 / (variance + Double(eps)).squareRoot()
            rm[ch] = Float(keep * Double(rm[ch]) + mom * mu)
            rv[ch] = Float(keep * Double(rv[ch]) + mom * variance * m / (m - 1))
        }
        numBatchesTracked.value[0] += 1
    }

    /// Backward through the statistics (Ioffe & Szegedy 2015, section 3). With
    /// x̂ = (x − μ)/σ and M elements per channel: dγ += Σdy·x̂, dβ += Σdy, and
    /// dx = γ/σ · (dy − Σdy/M − x̂·Σ(dy·x̂)/M) after a training forward, dx = γ/σ · dy
    /// after an evaluation forward. The two sums go through `reduceStatistics`; the
    /// parameter gradients take the local ones.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let xhat = normalized else { preconditionFailure("BatchNorm.backward before forward") }
        precondition(dy.count == xhat.count, "BatchNorm.backward: gradient \(describe(dy.shape)) does not match input \(describe(xhat.shape))")
        let shape = xhat.shape
        let n = shape[0], c = features, inner = xhat.count / max(n * c, 1)
        let ph = xhat.data, pdy = dy.data, s = sums.baseAddress!, inv = invStd.baseAddress!

        // Local per-channel sums: Σdy in s[0..<C], Σdy·x̂ in s[C..<2C].
        forEachChannelChunk(n, inner) { channels in
            for ch in channels { s[ch] = 0; s[c + ch] = 0 }
            for i in 0..<n {
                for ch in channels {
                    let base = (i * c + ch) * inner
                    let (sd, sdh) = Vector.moments(pdy + base, count: inner, times: ph + base)
                    s[ch] += sd
                    s[c + ch] += sdh
                }
            }
        }
        let dGamma = weight.gradient.data, dBeta = bias.gradient.data
        for ch in 0..<c {
            dBeta[ch] += Float(s[ch])
            dGamma[ch] += Float(s[c + ch])
        }

        let dx = Tensor.reuse(&inputGradient, shape: shape)
        let pdx = dx.data, gamma = weight.value.data
        if lastMode == .training {
            reduceStatistics?(UnsafeMutableBufferPointer(rebasing: sums[0..<(2 * c)]))
            let m = statisticsCount
            forEachPlaneChunk(n, inner) { planes in
                for p in planes {
                    let ch = p % c, base = p * inner
                    let scale = Float(Double(gamma[ch]) * inv[ch])
                    Vector.normalizeBackward(pdy + base, normalized: ph + base, count: inner, scale: scale,
                                             a: Float(s[ch] / m), c: Float(s[c + ch] / m), into: pdx + base)
                }
            }
        } else {
            forEachPlaneChunk(n, inner) { planes in
                for p in planes {
                    let ch = p % c, base = p * inner
                    let scale = Float(Double(gamma[ch]) * inv[ch])
                    for i in base..<(base + inner) { pdx[i] = scale * pdy[i] }
                }
            }
        }
        return dx
    }
}
