// FastICA (Hyvärinen & Oja 2000, "Independent component analysis: algorithms and
// applications"), as scikit-learn's `FastICA` with `whiten="unit-variance"` and
// `whiten_solver="eigh"`: centre, whiten by the eigenvectors of XᵀX, then find the
// rotation W of the white data that makes its projections maximally non-Gaussian by the
// fixed-point iteration w ← E[x g(wᵀx)] − E[g′(wᵀx)] w, all components at once with the
// symmetric decorrelation W ← (WWᵀ)^(−½) W ("parallel") or one at a time with
// Gram–Schmidt ("deflation"). All in Double; the products go through dgemm.
// Leaves out: whiten=False, a user-supplied w_init or contrast function.
import CBLAS
import Foundation
import PhalanxCore

/// Independent component analysis by FastICA: blind source separation of linearly mixed,
/// non-Gaussian sources (scikit-learn's `FastICA`).
///
/// Options: `components` (default: all features; at most the features and the rank of
/// the centred data), `algorithm` parallel | deflation, `fun` logcosh | exp | cube (the
/// contrast G; logcosh uses `alpha` ∈ [1, 2]), `maxIter` 200, `tol` 1e-4 (on the change of
/// the unmixing rows, |1 − |wᵢ·wᵢ′||), `seed` for the Gaussian initial W.
/// Sources come out with unit variance, as with `whiten="unit-variance"`.
public enum FastICA {
    /// How the components are estimated.
    public enum Algorithm: String, Sendable, CaseIterable {
        /// All rows of W together, symmetric decorrelation after each step.
        case parallel
        /// One row at a time, Gram–Schmidt against the rows already found.
        case deflation
    }

    /// The contrast function G (its derivative g is what the iteration uses).
    public enum Function: String, Sendable, CaseIterable {
        /// G(u) = log cosh(αu)/α, g(u) = tanh(αu): the general-purpose choice.
        case logcosh
        /// G(u) = −exp(−u²/2): robust, for super-Gaussian sources.
        case exp
        /// G(u) = u⁴/4, g(u) = u³: kurtosis, for sub-Gaussian sources without outliers.
        case cube
    }

    public struct Options: Sendable {
        /// How many sources to extract; nil: as many as features (`--components`).
        public var components: Int? = nil
        public var algorithm: Algorithm = .parallel
        /// `--fun`.
        public var fun: Function = .logcosh
        /// The α of logcosh, in [1, 2] (scikit-learn's `fun_args={"alpha": …}`; `--alpha`).
        public var alpha: Double = 1
        /// `--max-iter`.
        public var maxIter: Int = 200
        /// `--tol`.
        public var tol: Double = 1e-4
        /// `--seed`: the initial unmixing matrix is standard normal from this seed.
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable {
        /// `N × k` estimated sources, unit variance (scikit-learn's `fit_transform`).
        public var sources: Matrix
        /// `k × d` unmixing matrix in the original feature space: source = components·(x − mean)
        /// (scikit-learn's `components_`).
        public var components: Matrix
        /// `d × k` mixing matrix, the pseudo-inverse of `components`: x ≈ mean + mixing·source.
        public var mixing: Matrix
        /// The feature means removed before whitening.
        public var mean: [Float]
        /// Iterations run (for deflation, the most any component needed).
        public var iterations: Int
        /// Whether the iteration reached `tol` (every component, for deflation).
        public var converged: Bool

        /// The sources of new samples: (x − mean)·componentsᵀ.
        public func transform(_ x: Matrix) throws(AnalysisError) -> Matrix {
            try x.validate(method: "FastICA.transform")
            guard x.cols == mean.count else {
                throw .input("FastICA was fitted on \(mean.count) features; these samples have \(x.cols)")
            }
            let n = x.rows, d = x.cols, k = components.rows
            var centred = x.doubles
            for i in 0..<n { for f in 0..<d { centred[i * d + f] -= Double(mean[f]) } }
            let c = components.doubles
            var s = [Double](repeating: 0, count: n * k)
            LAPACK.gemm(transB: true, m: n, n: k, k: d, centred, c, &s)
            return Matrix(rows: n, cols: k, doubles: s)
        }
    }

    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        try x.validate(minimumRows: 2, method: "FastICA")
        let n = x.rows, d = x.cols
        let k = options.components ?? d
        guard k >= 1, k <= d else {
            throw .option("--components", "FastICA extracts 1 to \(d) components from \(d) features, not \(k)")
        }
        guard options.maxIter >= 1 else { throw .option("--max-iter", "must be at least 1, got \(options.maxIter)") }
        guard options.tol > 0, options.tol.isFinite else { throw .option("--tol", "must be positive, got \(options.tol)") }
        guard options.alpha >= 1, options.alpha <= 2 else {
            throw .option("--alpha", "logcosh's alpha must be in [1, 2], got \(options.alpha)")
        }

        // Centre, then whiten with the top-k eigenvectors of XcᵀXc.
        var xc = x.doubles
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for f in 0..<d { mean[f] += xc[i * d + f] } }
        for f in 0..<d { mean[f] /= Double(n) }
        for i in 0..<n { for f in 0..<d { xc[i * d + f] -= mean[f] } }
        var gram = [Double](repeating: 0, count: d * d)
        LAPACK.gemm(transA: true, m: d, n: d, k: n, xc, xc, &gram)
        let eigen = try LAPACK.symmetricEigen(gram, n: d, indices: (d - k)...(d - 1))
        let top = eigen.values.last ?? 0
        // u: d × k (column j = eigenvector j, descending), sign fixed so u[0, j] ≥ 0.
        var u = [Double](repeating: 0, count: d * k), scale = [Double](repeating: 0, count: k)
        for j in 0..<k {
            let src = k - 1 - j
            let value = eigen.values[src]
            guard value > top * 1e-12, value > 0 else {
                throw .option("--components", "\(k) components exceed the rank of the centred data: "
                    + "component \(j + 1) has variance \(value / Double(n)); use at most \(j)")
            }
            scale[j] = value.squareRoot()
            let sign: Double = eigen.vectors[src * d] < 0 ? -1 : 1
            for f in 0..<d { u[f * k + j] = sign * eigen.vectors[src * d + f] }
        }
        // K = D⁻¹Uᵀ (k × d); the white data X1 = √n · K · Xcᵀ (k × N), unit covariance.
        var whitening = [Double](repeating: 0, count: k * d)
        for j in 0..<k { for f in 0..<d { whitening[j * d + f] = u[f * k + j] / scale[j] } }
        var white = [Double](repeating: 0, count: k * n)
        LAPACK.gemm(transB: true, m: k, n: n, k: d, alpha: Double(n).squareRoot(), whitening, xc, &white)

        var rng = RNG(seed: options.seed, stream: 0)
        var w = (0..<(k * k)).map { _ in Double(rng.normal()) }
        let contrast = Contrast(fun: options.fun, alpha: options.alpha)
        let (iterations, converged) = options.algorithm == .parallel
            ? try parallel(white, n: n, k: k, &w, contrast, options)
            : deflation(white, n: n, k: k, &w, contrast, options)

        // Raw sources W·K·Xcᵀ, then unit variance: components = diag(1/σ)·W·K and
        // mixing = U·D·Wᵀ·diag(σ) (W orthogonal, so this is the exact pseudo-inverse).
        var unmixing = [Double](repeating: 0, count: k * d)
        LAPACK.gemm(m: k, n: d, k: k, w, whitening, &unmixing)
        var s = [Double](repeating: 0, count: n * k)
        LAPACK.gemm(transB: true, m: n, n: k, k: d, xc, unmixing, &s)
        var sigma = [Double](repeating: 1, count: k)
        for j in 0..<k {
            var m = 0.0, v = 0.0
            for i in 0..<n { m += s[i * k + j] }
            m /= Double(n)
            for i in 0..<n { let t = s[i * k + j] - m; v += t * t }
            sigma[j] = max((v / Double(n)).squareRoot(), .leastNormalMagnitude)
        }
        for i in 0..<n { for j in 0..<k { s[i * k + j] /= sigma[j] } }
        for j in 0..<k { for f in 0..<d { unmixing[j * d + f] /= sigma[j] } }
        var mixing = [Double](repeating: 0, count: d * k)
        for f in 0..<d {
            for j in 0..<k {
                var t = 0.0
                for p in 0..<k { t += u[f * k + p] * scale[p] * w[j * k + p] }
                mixing[f * k + j] = t * sigma[j]
            }
        }
        return Result(sources: Matrix(rows: n, cols: k, doubles: s),
                      components: Matrix(rows: k, cols: d, doubles: unmixing),
                      mixing: Matrix(rows: d, cols: k, doubles: mixing),
                      mean: mean.map { Float($0) }, iterations: iterations, converged: converged)
    }

    /// g and the mean of g′ over one row of projections, in place.
    struct Contrast {
        let fun: Function
        let alpha: Double

        /// Replaces `u[0..<count]` by g(u) and returns mean g′(u).
        func apply(_ u: UnsafeMutablePointer<Double>, _ count: Int) -> Double {
            var derivative = 0.0
            switch fun {
            case .logcosh:
                for i in 0..<count {
                    let t = tanh(alpha * u[i])
                    u[i] = t
                    derivative += alpha * (1 - t * t)
                }
            case .exp:
                for i in 0..<count {
                    let v = u[i], e = exp(-v * v / 2)
                    u[i] = v * e
                    derivative += (1 - v * v) * e
                }
            case .cube:
                for i in 0..<count {
                    let v = u[i]
                    u[i] = v * v * v
                    derivative += 3 * v * v
                }
            }
            return derivative / Double(count)
        }
    }

    /// Symmetric FastICA: W ← sym(E[g(WX)Xᵀ] − diag(E[g′(WX)])W) until max |1 − |wᵢ·wᵢ′|| < tol.
    private static func parallel(_ x: [Double], n: Int, k: Int, _ w: inout [Double], _ g: Contrast,
                                 _ options: Options) throws(AnalysisError) -> (Int, Bool) {
        try symmetricDecorrelation(&w, k: k)
        var wx = [Double](repeating: 0, count: k * n)
        var next = [Double](repeating: 0, count: k * k)
        var derivative = [Double](repeating: 0, count: k)
        for iteration in 1...options.maxIter {
            LAPACK.gemm(m: k, n: n, k: k, w, x, &wx)
            wx.withUnsafeMutableBufferPointer { p in
                derivative.withUnsafeMutableBufferPointer { dp in
                    let pBox = UncheckedSendable(p), dBox = UncheckedSendable(dp)
                    Parallel.forEach(k) { rows in
                        for r in rows { dBox.value[r] = g.apply(pBox.value.baseAddress! + r * n, n) }
                    }
                }
            }
            LAPACK.gemm(transB: true, m: k, n: k, k: n, alpha: 1 / Double(n), wx, x, &next)
            for r in 0..<k { for c in 0..<k { next[r * k + c] -= derivative[r] * w[r * k + c] } }
            try symmetricDecorrelation(&next, k: k)
            var limit = 0.0
            for r in 0..<k {
                var dot = 0.0
                for c in 0..<k { dot += next[r * k + c] * w[r * k + c] }
                limit = max(limit, abs(abs(dot) - 1))
            }
            swap(&w, &next)
            if limit < options.tol { return (iteration, true) }
        }
        return (options.maxIter, false)
    }

    /// Deflationary FastICA: one row at a time, Gram–Schmidt against the rows before it.
    private static func deflation(_ x: [Double], n: Int, k: Int, _ w: inout [Double], _ g: Contrast,
                                  _ options: Options) -> (Int, Bool) {
        var result = [Double](repeating: 0, count: k * k)
        var projection = [Double](repeating: 0, count: n)
        var row = [Double](repeating: 0, count: k), next = [Double](repeating: 0, count: k)
        var most = 0, allConverged = true
        for j in 0..<k {
            for c in 0..<k { row[c] = w[j * k + c] }
            normalise(&row)
            var used = options.maxIter, converged = false
            for iteration in 1...options.maxIter {
                // projection = rowᵀ X; next = X·g(projection)/n − mean g′ · row.
                LAPACK.gemm(m: 1, n: n, k: k, row, x, &projection)
                let derivative = projection.withUnsafeMutableBufferPointer { g.apply($0.baseAddress!, n) }
                LAPACK.gemm(transB: true, m: 1, n: k, k: n, alpha: 1 / Double(n), projection, x, &next)
                for c in 0..<k { next[c] -= derivative * row[c] }
                for p in 0..<j {
                    var dot = 0.0
                    for c in 0..<k { dot += next[c] * result[p * k + c] }
                    for c in 0..<k { next[c] -= dot * result[p * k + c] }
                }
                normalise(&next)
                var dot = 0.0
                for c in 0..<k { dot += next[c] * row[c] }
                swap(&row, &next)
                if abs(abs(dot) - 1) < options.tol { used = iteration; converged = true; break }
            }
            most = max(most, used)
            allConverged = allConverged && converged
            for c in 0..<k { result[j * k + c] = row[c] }
        }
        w = result
        return (most, allConverged)
    }

    private static func normalise(_ v: inout [Double]) {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { for i in v.indices { v[i] /= norm } }
    }

    /// W ← (WWᵀ)^(−½) W, through the eigendecomposition of WWᵀ (eigenvalues clipped at the
    /// smallest normal Double, as scikit-learn).
    static func symmetricDecorrelation(_ w: inout [Double], k: Int) throws(AnalysisError) {
        var wwt = [Double](repeating: 0, count: k * k)
        LAPACK.gemm(transB: true, m: k, n: k, k: k, w, w, &wwt)
        let (values, vectors) = try LAPACK.symmetricEigen(wwt, n: k)
        var root = [Double](repeating: 0, count: k * k)
        for e in 0..<values.count {
            let s = 1 / max(values[e], .leastNormalMagnitude).squareRoot()
            for r in 0..<k {
                let vr = vectors[e * k + r] * s
                for c in 0..<k { root[r * k + c] += vr * vectors[e * k + c] }
            }
        }
        var out = [Double](repeating: 0, count: k * k)
        LAPACK.gemm(m: k, n: k, k: k, root, w, &out)
        w = out
    }
}
