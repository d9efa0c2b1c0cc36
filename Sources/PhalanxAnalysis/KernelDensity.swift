// Gaussian kernel density estimation, scikit-learn's KernelDensity(kernel='gaussian') with
// its exact answer (atol = rtol = 0): log p(q) = logsumexp_j(−‖q − x_j‖²/2h²) − log n
// − (d/2)·log(2πh²). Squared distances come in blocks from one DGEMM (‖q‖² + ‖x‖² − 2q·x on
// data centred by the training mean; Double, because scikit-learn's answer is exact and the
// Float form loses ~1e-4 of a squared distance of 784 pixels); the log-sum-exp subtracts
// each query's largest term, so nothing underflows. Bandwidth: a number, Scott's n^(−1/(d+4)),
// Silverman's (n(d+2)/4)^(−1/(d+4)) (as scikit-learn ≥ 1.2 defines them: not scaled by the
// data's spread), or the grid value a 5-fold GridSearchCV would pick. Also the 1-D histogram.
import CBLAS
import Foundation
import PhalanxCore

/// A Gaussian kernel density estimate (Rosenblatt 1956; Parzen 1962; Silverman, *Density
/// Estimation*, 1986).
///
/// Options: `bandwidth` (`--bandwidth scott|silverman|cv|NUMBER`, default 1 as scikit-learn),
/// `grid` (the bandwidths `cv` tries: scikit-learn's documented logspace(−1, 1, 20)) and
/// `folds` (5, contiguous and unshuffled as GridSearchCV's KFold).
public enum KernelDensity {
    /// How the bandwidth h is chosen.
    public enum Bandwidth: Sendable, Equatable {
        case value(Double)
        /// n^(−1/(d+4)).
        case scott
        /// (n·(d+2)/4)^(−1/(d+4)).
        case silverman
        /// The grid value of largest mean held-out log-likelihood over the folds.
        case crossValidated

        /// Parses the command line's `scott`, `silverman`, `cv` or a positive number.
        public init(_ text: String) throws(AnalysisError) {
            switch text.lowercased() {
            case "scott": self = .scott
            case "silverman": self = .silverman
            case "cv": self = .crossValidated
            default:
                guard let h = Double(text), h > 0, h.isFinite else {
                    throw .option("--bandwidth", "expected scott, silverman, cv or a positive number, got '\(text)'")
                }
                self = .value(h)
            }
        }
    }

    public struct Options: Sendable {
        /// The bandwidth rule or value (`--bandwidth`).
        public var bandwidth = Bandwidth.value(1)
        /// The bandwidths cross-validation tries: 10^(−1 + 2i/19), i = 0…19.
        public var grid: [Double] = (0..<20).map { pow(10, -1 + 2 * Double($0) / 19) }
        /// Folds of the cross-validation.
        public var folds = 5
        public init() {}
    }

    /// The fitted estimate: the training samples and the bandwidth.
    public struct Result: Sendable {
        /// The bandwidth used (scikit-learn's bandwidth_).
        public var bandwidth: Double
        /// Mean held-out log-likelihood per sample of each grid bandwidth (cv only; else empty).
        public var crossValidationScores: [(bandwidth: Double, meanLogDensity: Double)]
        /// The training samples.
        public var samples: Matrix

        /// Log-density of each row of `q` (scikit-learn's score_samples).
        public func scoreSamples(_ q: Matrix) throws(AnalysisError) -> [Double] {
            try q.validate(minimumRows: 0, method: "KernelDensity.scoreSamples")
            guard q.cols == samples.cols else {
                throw .input("queries of \(q.cols) features for a density of \(samples.cols)")
            }
            return KernelDensity.logDensities(q, samples, bandwidths: [bandwidth])[0]
        }

        /// Total log-likelihood of the rows of `q` (scikit-learn's score).
        public func score(_ q: Matrix) throws(AnalysisError) -> Double { try scoreSamples(q).reduce(0, +) }

        /// Mean log-density of the rows of `q` (held-out samples).
        public func meanScore(_ q: Matrix) throws(AnalysisError) -> Double {
            guard q.rows > 0 else { throw .input("no samples to score") }
            return try score(q) / Double(q.rows)
        }
    }

    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        try x.validate(minimumRows: 1, method: "KernelDensity")
        let n = Double(x.rows), d = Double(x.cols)
        switch options.bandwidth {
        case .value(let h):
            guard h > 0, h.isFinite else { throw .option("--bandwidth", "must be positive, got \(h)") }
            return Result(bandwidth: h, crossValidationScores: [], samples: x)
        case .scott:
            return Result(bandwidth: pow(n, -1 / (d + 4)), crossValidationScores: [], samples: x)
        case .silverman:
            return Result(bandwidth: pow(n * (d + 2) / 4, -1 / (d + 4)), crossValidationScores: [], samples: x)
        case .crossValidated:
            let folds = options.folds
            guard folds >= 2 else { throw .option("--bandwidth", "cv needs at least 2 folds, got \(folds)") }
            guard x.rows >= folds else {
                throw .option("--bandwidth", "cv with \(folds) folds needs at least \(folds) samples, got \(x.rows)")
            }
            guard !options.grid.isEmpty, options.grid.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw .option("--bandwidth", "the cv grid must hold positive numbers")
            }
            let scores = crossValidate(x, grid: options.grid, folds: folds)
            var best = 0
            for g in scores.indices where scores[g] > scores[best] { best = g }  // first of the best, as GridSearchCV
            // Report per-sample means: GridSearchCV's fold score is a fold's total log-likelihood.
            let perSample = scores.map { $0 * Double(folds) / n }
            return Result(bandwidth: options.grid[best],
                          crossValidationScores: zip(options.grid, perSample).map { (bandwidth: $0, meanLogDensity: $1) },
                          samples: x)
        }
    }

    /// For each grid bandwidth, the mean over KFold(folds) splits (contiguous, the first n mod
    /// folds folds one longer) of the held-out fold's total log-likelihood: GridSearchCV's
    /// mean_test_score for KernelDensity.
    static func crossValidate(_ x: Matrix, grid: [Double], folds: Int) -> [Double] {
        let n = x.rows
        var totals = [Double](repeating: 0, count: grid.count)
        var start = 0
        for f in 0..<folds {
            let size = n / folds + (f < n % folds ? 1 : 0)
            let held = Array(start..<(start + size))
            let kept = Array(0..<start) + Array((start + size)..<n)
            start += size
            guard !kept.isEmpty else { continue }
            let scores = logDensities(x.selecting(rows: held), x.selecting(rows: kept), bandwidths: grid)
            for g in grid.indices { totals[g] += scores[g].reduce(0, +) }
        }
        return totals.map { $0 / Double(folds) }
    }

    /// `[bandwidth][query]` log-densities of the queries under the Gaussian KDE of `data`.
    /// Queries go in blocks over the threads; each block's squared distances to all of the
    /// data are formed (DGEMM in Double), then every bandwidth's log-sum-exp is taken.
    static func logDensities(_ queries: Matrix, _ data: Matrix, bandwidths: [Double]) -> [[Double]] {
        let nq = queries.rows, n = data.rows, d = data.cols, nh = bandwidths.count
        // Centre both on the data's mean: the norms shrink, and so does the cancellation.
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for f in 0..<d { mean[f] += Double(data.values[i * d + f]) } }
        for f in 0..<d { mean[f] /= Double(n) }
        func centred(_ m: Matrix) -> [Double] {
            var out = [Double](repeating: 0, count: m.rows * d)
            for i in 0..<m.rows { for f in 0..<d { out[i * d + f] = Double(m.values[i * d + f]) - mean[f] } }
            return out
        }
        let q = centred(queries), x = centred(data)
        func norms(_ a: [Double], _ rows: Int) -> [Double] {
            (0..<rows).map { i in var s = 0.0; for f in 0..<d { s += a[i * d + f] * a[i * d + f] }; return s }
        }
        let qn = norms(q, nq), xn = norms(x, n)
        var out = [Double](repeating: 0, count: nh * nq)
        let logNorm = bandwidths.map { h in log(Double(n)) + 0.5 * Double(d) * log(2 * Double.pi * h * h) }
        let factors = bandwidths.map { h in -0.5 / (h * h) }
        let block = max(1, min(256, (1 << 22) / max(n, 1)))  // ≤ 32 MB of distances per thread
        let blocks = (nq + block - 1) / block
        q.withUnsafeBufferPointer { qp in
        x.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { op in
            let qBox = UncheckedSendable(qp), xBox = UncheckedSendable(xp), oBox = UncheckedSendable(op)
            Parallel.forChunks(blocks) { _, range in
                var dist = [Double](repeating: 0, count: block * n)
                dist.withUnsafeMutableBufferPointer { dp in
                    let g = dp.baseAddress!
                    for b in range {
                        let lo = b * block, rows = min(block, nq - lo)
                        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(d), -2,
                                    qBox.value.baseAddress! + lo * d, Int32(d), xBox.value.baseAddress!, Int32(d),
                                    0, g, Int32(n))
                        for r in 0..<rows {
                            let row = g + r * n, qi = qn[lo + r]
                            var smallest = Double.infinity
                            for j in 0..<n {
                                let v = max(row[j] + qi + xn[j], 0)
                                row[j] = v
                                smallest = min(smallest, v)
                            }
                            for h in 0..<nh {
                                let f = factors[h]
                                var s = 0.0
                                for j in 0..<n { s += exp(f * (row[j] - smallest)) }
                                oBox.value[h * nq + lo + r] = f * smallest + log(s) - logNorm[h]
                            }
                        }
                    }
                }
            }
        }}}
        return (0..<nh).map { h in Array(out[(h * nq)..<((h + 1) * nq)]) }
    }

    /// A 1-D histogram normalised to a density: counts / (n · bin width).
    public struct Histogram: Sendable, Equatable {
        /// `bins + 1` ascending edges; the last bin includes its right edge (as numpy).
        public var edges: [Double]
        public var counts: [Int]
        /// counts[i] / (n · (edges[i+1] − edges[i])): integrates to 1.
        public var density: [Double]
    }

    /// The histogram density of `values` in `bins` equal bins over their range, or, with nil,
    /// the Freedman–Diaconis count ⌈range / (2·IQR·n^(−1/3))⌉ (numpy's 'fd'; Sturges'
    /// ⌈log₂ n⌉ + 1 where the IQR is 0).
    public static func histogram(_ values: [Double], bins: Int? = nil) throws(AnalysisError) -> Histogram {
        guard !values.isEmpty else { throw .input("a histogram needs at least one value") }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw .input("the values hold \(values[bad]) at sample \(bad)")
        }
        if let b = bins, b < 1 { throw .option("--bins", "must be at least 1, got \(b)") }
        let sorted = values.sorted(), n = sorted.count
        var lo = sorted[0], hi = sorted[n - 1]
        if lo == hi { lo -= 0.5; hi += 0.5 }  // numpy's range for constant data
        func quantile(_ p: Double) -> Double {  // linear interpolation, numpy's default
            let pos = p * Double(n - 1), i = Int(pos.rounded(.down))
            return i + 1 < n ? sorted[i] + (pos - Double(i)) * (sorted[i + 1] - sorted[i]) : sorted[i]
        }
        let count: Int
        if let b = bins {
            count = b
        } else {
            let iqr = quantile(0.75) - quantile(0.25)
            let width = 2 * iqr * pow(Double(n), -1.0 / 3)
            count = width > 0 ? max(1, Int((( hi - lo) / width).rounded(.up))) : Int(log2(Double(n)).rounded(.up)) + 1
        }
        let width = (hi - lo) / Double(count)
        let edges = (0...count).map { $0 == count ? hi : lo + Double($0) * width }
        var counts = [Int](repeating: 0, count: count)
        for v in sorted { counts[min(count - 1, max(0, Int((v - lo) / width)))] += 1 }
        let density = counts.map { Double($0) / (Double(n) * width) }
        return Histogram(edges: edges, counts: counts, density: density)
    }
}
