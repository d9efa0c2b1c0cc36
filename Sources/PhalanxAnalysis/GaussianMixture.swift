// Gaussian mixture models fitted by expectation–maximisation (Dempster, Laird & Rubin
// 1977): the E-step gives each sample its responsibilities p(component | sample), the
// M-step re-estimates weights, means and covariances from them; each iteration raises the
// log-likelihood until it changes by less than `tol` per sample. Initialised, like
// scikit-learn's GaussianMixture, from the labels of one k-means run.
//
// Data-parallel: the M-step needs only the sums Σr, Σr·x and Σr·x·xᵀ (or Σr·x² for
// diagonal covariances) per component — every rank adds its shard's and they are
// allreduced, as is the log-likelihood; every rank holds the same parameters.
import CBLAS
import Foundation
import PhalanxCore

/// A mixture of K Gaussians.
public enum GaussianMixture {
    public enum Covariance: String, Sendable, CaseIterable {
        case full, diag
    }

    public struct Options: Sendable {
        /// K (`--clusters`).
        public var components = 1
        /// `--covariance`.
        public var covariance = Covariance.full
        /// EM iterations (`--max-iter`).
        public var maxIter = 100
        /// Stop when the mean log-likelihood per sample changes by less (`--tol`).
        public var tol = 1e-3
        /// Added to the covariances' diagonals, keeping them positive definite (`--reg-covar`).
        public var regCovar = 1e-6
        /// Restarts, the best log-likelihood kept (`--n-init`).
        public var nInit = 1
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable {
        public var weights: [Double]
        /// `K × d`.
        public var means: [Double]
        /// `K × d × d` (full) or `K × d` (diag).
        public var covariances: [Double]
        public var covariance: Covariance
        public var dimension: Int
        /// The most responsible component of each of this rank's samples.
        public var labels: [Int]
        /// Mean log-likelihood per sample under the final parameters (scikit-learn's `score`).
        public var meanLogLikelihood: Double
        /// The mean log-likelihood after each E-step of the kept run.
        public var history: [Double]
        public var iterations: Int
        public var converged: Bool
        public var samples: Int

        /// Free parameters: K − 1 weights, K·d means and the covariances.
        public var parameterCount: Int {
            let k = weights.count, d = dimension
            return (k - 1) + k * d + (covariance == .full ? k * d * (d + 1) / 2 : k * d)
        }
        /// Bayesian information criterion, −2·log L + p·ln N (lower is better).
        public var bic: Double { -2 * meanLogLikelihood * Double(samples) + Double(parameterCount) * log(Double(samples)) }
        /// Akaike information criterion, −2·log L + 2p.
        public var aic: Double { -2 * meanLogLikelihood * Double(samples) + 2 * Double(parameterCount) }
    }

    /// Fits on one process's samples.
    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        do { return try fit(Shard(x), options) } catch let e as AnalysisError { throw e } catch { throw .input("\(error)") }
    }

    /// Fits on every rank's shard.
    public static func fit(_ shard: Shard, _ options: Options) throws -> Result {
        let k = options.components
        try shard.local.validate(minimumRows: 0, method: "Gaussian mixture")
        guard k >= 1 else { throw AnalysisError.option("--clusters", "must be at least 1, got \(k)") }
        guard k <= shard.total else { throw AnalysisError.option("--clusters", "\(k) components of \(shard.total) samples") }
        guard options.maxIter >= 1 else { throw AnalysisError.option("--max-iter", "must be at least 1, got \(options.maxIter)") }
        guard options.tol >= 0 else { throw AnalysisError.option("--tol", "must not be negative, got \(options.tol)") }
        guard options.regCovar >= 0 else { throw AnalysisError.option("--reg-covar", "must not be negative, got \(options.regCovar)") }
        guard options.nInit >= 1 else { throw AnalysisError.option("--n-init", "must be at least 1, got \(options.nInit)") }
        var best: Result?
        for run in 0..<options.nInit {
            var km = KMeans.Options()
            km.clusters = k
            km.nInit = 1
            // Restart r of seed s must not be restart 0 of seed s + r: mix the run into the seed.
            km.seed = options.seed ^ (UInt64(run) &* 0x9E37_79B9_7F4A_7C15)
            let labels = try KMeans.fit(shard, km).labels
            let r = try em(shard, labels: labels, options)
            if best == nil || r.meanLogLikelihood > best!.meanLogLikelihood { best = r }
        }
        return best!
    }

    /// Parameters of one component set, with the Cholesky factors the E-step needs.
    struct Parameters {
        var weights: [Double]
        var means: [Double]
        var covariances: [Double]
        /// Full: the inverse of each covariance's lower Cholesky factor (K × d × d); diag: 1/σ².
        var whitening: [Double]
        /// ln |Σ_k| for each component.
        var logDeterminants: [Double]
    }

    static func em(_ shard: Shard, labels: [Int], _ o: Options) throws -> Result {
        let x = shard.local, n = x.rows, d = x.cols, k = o.components
        // Responsibilities start one-hot at the k-means labels.
        var resp = [Double](repeating: 0, count: n * k)
        for i in 0..<n { resp[i * k + labels[i]] = 1 }
        var params = try mStep(shard, resp: resp, o)
        var history: [Double] = []
        var lowerBound = -Double.infinity
        var converged = false, iterations = 0
        for _ in 0..<o.maxIter {
            let previous = lowerBound
            lowerBound = try eStep(shard, params, o.covariance, resp: &resp)
            history.append(lowerBound)
            params = try mStep(shard, resp: resp, o)
            iterations += 1
            if abs(lowerBound - previous) < o.tol { converged = true; break }
        }
        let final = try eStep(shard, params, o.covariance, resp: &resp)
        var assigned = [Int](repeating: 0, count: n)
        for i in 0..<n {
            var best = 0
            for c in 1..<k where resp[i * k + c] > resp[i * k + best] { best = c }
            assigned[i] = best
        }
        return Result(weights: params.weights, means: params.means, covariances: params.covariances, covariance: o.covariance,
                      dimension: d, labels: assigned, meanLogLikelihood: final, history: history, iterations: iterations,
                      converged: converged, samples: shard.total)
    }

    /// Weights, means and covariances from responsibilities (sums allreduced).
    static func mStep(_ shard: Shard, resp: [Double], _ o: Options) throws -> Parameters {
        let x = shard.local, n = x.rows, d = x.cols, k = o.components
        let full = o.covariance == .full
        let second = full ? d * d : d
        var stats = [Double](repeating: 0, count: k + k * d + k * second)
        let xd = x.doubles
        // Σr and Σr·x by one GEMM: respᵀ (K × n) · x (n × d).
        for i in 0..<n { for c in 0..<k { stats[c] += resp[i * k + c] } }
        if n > 0 {
            stats.withUnsafeMutableBufferPointer { s in
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(d), Int32(n), 1, resp, Int32(k),
                            xd, Int32(d), 0, s.baseAddress! + k, Int32(d))
            }
        }
        if full {
            // Σr·x·xᵀ per component: DSYRK on the rows scaled by √r.
            var scaled = [Double](repeating: 0, count: n * d)
            for c in 0..<k where n > 0 {
                for i in 0..<n {
                    let w = resp[i * k + c].squareRoot()
                    for j in 0..<d { scaled[i * d + j] = w * xd[i * d + j] }
                }
                stats.withUnsafeMutableBufferPointer { s in
                    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(d), Int32(n), 1, scaled, Int32(d), 0,
                                s.baseAddress! + k + k * d + c * d * d, Int32(d))
                }
            }
        } else {
            var squares = xd
            for v in 0..<squares.count { squares[v] *= squares[v] }
            if n > 0 {
                stats.withUnsafeMutableBufferPointer { s in
                    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(d), Int32(n), 1, resp, Int32(k),
                                squares, Int32(d), 0, s.baseAddress! + k + k * d, Int32(d))
                }
            }
        }
        try shard.sum(&stats)
        let total = Double(shard.total)
        var weights = [Double](repeating: 0, count: k), means = [Double](repeating: 0, count: k * d)
        var covariances = [Double](repeating: 0, count: k * second)
        var whitening = covariances, logDet = [Double](repeating: 0, count: k)
        for c in 0..<k {
            let nk = stats[c] + 10 * Double.ulpOfOne  // as scikit-learn, no division by zero
            weights[c] = nk / total
            for j in 0..<d { means[c * d + j] = stats[k + c * d + j] / nk }
            let base = k + k * d + c * second
            if full {
                var cov = [Double](repeating: 0, count: d * d)
                for a in 0..<d {
                    for b in 0...a {
                        let v = stats[base + a * d + b] / nk - means[c * d + a] * means[c * d + b]
                        cov[a * d + b] = v; cov[b * d + a] = v
                    }
                    cov[a * d + a] += o.regCovar
                }
                guard let l = LAPACK.cholesky(cov, n: d) else {
                    throw AnalysisError.option("--reg-covar", "the covariance of component \(c) is not positive definite "
                        + "(too few samples or collapsed features); raise --reg-covar (now \(o.regCovar)) or use --covariance diag")
                }
                var det = 0.0
                for a in 0..<d { det += 2 * log(l[a * d + a]) }
                logDet[c] = det
                let inverse = lowerInverse(l, d)
                for v in 0..<(d * d) { covariances[c * d * d + v] = cov[v]; whitening[c * d * d + v] = inverse[v] }
            } else {
                var det = 0.0
                for j in 0..<d {
                    let v = max(stats[base + j] / nk - means[c * d + j] * means[c * d + j], 0) + o.regCovar
                    guard v > 0 else {
                        throw AnalysisError.option("--reg-covar", "feature \(j) has zero variance in component \(c); raise --reg-covar")
                    }
                    covariances[c * d + j] = v
                    whitening[c * d + j] = 1 / v
                    det += log(v)
                }
                logDet[c] = det
            }
        }
        return Parameters(weights: weights, means: means, covariances: covariances, whitening: whitening, logDeterminants: logDet)
    }

    /// Responsibilities of every sample; returns the mean log-likelihood over all ranks.
    static func eStep(_ shard: Shard, _ p: Parameters, _ covariance: Covariance, resp: inout [Double]) throws -> Double {
        let x = shard.local, n = x.rows, d = x.cols, k = p.weights.count
        let constant = Double(d) * log(2 * Double.pi)
        var logProb = [Double](repeating: 0, count: n * k)
        let xd = x.doubles
        if covariance == .full {
            // ‖L⁻¹(x − μ)‖² for all rows at once: (X − μ)·L⁻ᵀ by DGEMM per component.
            var centred = [Double](repeating: 0, count: n * d), y = centred
            for c in 0..<k where n > 0 {
                for i in 0..<n { for j in 0..<d { centred[i * d + j] = xd[i * d + j] - p.means[c * d + j] } }
                p.whitening.withUnsafeBufferPointer { w in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(d), Int32(d), 1, centred, Int32(d),
                                w.baseAddress! + c * d * d, Int32(d), 0, &y, Int32(d))
                }
                for i in 0..<n {
                    var s = 0.0
                    for j in 0..<d { s += y[i * d + j] * y[i * d + j] }
                    logProb[i * k + c] = -0.5 * (constant + p.logDeterminants[c] + s) + log(p.weights[c])
                }
            }
        } else {
            let box = UncheckedSendable(logProb.withUnsafeMutableBufferPointer { $0 })
            Parallel.forEach(n, grain: 64) { rows in
                for i in rows {
                    for c in 0..<k {
                        var s = 0.0
                        for j in 0..<d {
                            let t = xd[i * d + j] - p.means[c * d + j]
                            s += t * t * p.whitening[c * d + j]
                        }
                        box.value[i * k + c] = -0.5 * (constant + p.logDeterminants[c] + s) + log(p.weights[c])
                    }
                }
            }
        }
        // Normalise by log-sum-exp per row.
        var total = [0.0]
        for i in 0..<n {
            var m = -Double.infinity
            for c in 0..<k { m = max(m, logProb[i * k + c]) }
            var s = 0.0
            for c in 0..<k { s += exp(logProb[i * k + c] - m) }
            let norm = m + log(s)
            total[0] += norm
            for c in 0..<k { resp[i * k + c] = exp(logProb[i * k + c] - norm) }
        }
        try shard.sum(&total)
        return total[0] / Double(shard.total)
    }

    /// The inverse of a lower-triangular row-major d×d matrix (forward substitution).
    static func lowerInverse(_ l: [Double], _ d: Int) -> [Double] {
        var inv = [Double](repeating: 0, count: d * d)
        for col in 0..<d {
            for i in col..<d {
                var s = i == col ? 1.0 : 0.0
                for j in col..<i { s -= l[i * d + j] * inv[j * d + col] }
                inv[i * d + col] = s / l[i * d + i]
            }
        }
        return inv
    }
}
