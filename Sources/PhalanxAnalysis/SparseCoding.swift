// Sparse coding over a (possibly over-complete) dictionary and dictionary learning
// (Olshausen & Field 1996; scikit-learn's `DictionaryLearning` and `SparseCoder`).
//
// Coders, per sample x with dictionary D (atoms × d, one atom a row):
// - ISTA / FISTA (Beck & Teboulle 2009) for the lasso ½‖x − Dᵀa‖² + alpha‖a‖₁, step 1/L with
//   L the largest eigenvalue of DDᵀ, batched over blocks of samples: one SGEMM (block × atoms
//   × atoms) per step, blocks in parallel, each stopping on its own.
// - OMP (Pati et al. 1993), in its Gram form (Batch-OMP, Rubinstein et al. 2008) with an
//   incremental Cholesky factor, for codes with at most `nonzeros` atoms.
// Dictionary learning alternates the coder with scikit-learn's block coordinate descent
// over atoms (`_update_dict`: each atom the least-squares update given the others, then
// projected onto ‖atom‖ ≤ 1; an unused atom is redrawn from a sample plus 1 % noise),
// starting from the SVD of X as scikit-learn does.
// Leaves out: LARS and coordinate descent coders, positivity constraints, online/mini-batch.
import CBLAS
import PhalanxCore

/// Sparse coding and dictionary learning: find atoms D and sparse codes A with X ≈ A·D.
///
/// `fit` minimises ½‖X − A·D‖²_F + alpha‖A‖₁ over A and D (‖atom‖ ≤ 1) by alternating the
/// sparse coder and block coordinate descent on D, as scikit-learn's `DictionaryLearning`;
/// `encode` codes new samples over a given dictionary (scikit-learn's `SparseCoder`).
/// Options: `atoms` (default: the feature count; may exceed it — over-complete), `alpha`
/// (1), `coder` fista | ista | omp, `nonzeros` for OMP (default max(d/10, 1) as scikit-learn),
/// `maxIter` (1000) and `tol` (1e-8, on the relative decrease of the objective) of the
/// alternation, `coderMaxIter` and `coderTol` of FISTA/ISTA, `seed` (redrawn atoms).
public enum SparseCoding {
    /// How codes are computed.
    public enum Coder: String, Sendable, CaseIterable {
        /// Accelerated proximal gradient on the lasso (O(1/k²)).
        case fista
        /// Plain proximal gradient (iterative soft thresholding) on the lasso (O(1/k)).
        case ista
        /// Orthogonal matching pursuit: greedy, at most `nonzeros` atoms, no ℓ₁ penalty.
        case omp
    }

    public struct Options: Sendable {
        /// Dictionary size; nil: as many atoms as features (`--atoms`).
        public var atoms: Int? = nil
        /// The ℓ₁ weight of the lasso (`--alpha`), ≥ 0.
        public var alpha: Double = 1
        /// `--coder`.
        public var coder: Coder = .fista
        /// Atoms per code for OMP; nil: max(features / 10, 1) (`--nonzeros`).
        public var nonzeros: Int? = nil
        /// Alternations of coding and dictionary update (`--max-iter`).
        public var maxIter: Int = 1000
        /// Stop when the objective falls by less than tol × objective (`--tol`).
        public var tol: Double = 1e-8
        /// Steps of FISTA / ISTA per coding.
        public var coderMaxIter: Int = 1000
        /// FISTA / ISTA stop when L·‖a − y‖∞ (which bounds the optimality residual) is below
        /// coderTol × ‖Dx‖∞ for every sample of a block.
        public var coderTol: Double = 1e-4
        /// `--seed`: draws the replacements of unused atoms.
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable {
        /// `atoms × d`, one atom a row, each of norm at most 1.
        public var dictionary: Matrix
        /// `N × atoms` codes: sample i ≈ codes[i]·dictionary.
        public var codes: Matrix
        /// ½‖X − A·D‖²_F + alpha‖A‖₁ after each alternation (for OMP without the ℓ₁ term).
        public var objective: [Double]
        public var iterations: Int
        /// Whether the relative decrease fell below `tol` before `maxIter`.
        public var converged: Bool
        /// Mean non-zero coefficients per code.
        public var meanNonzeros: Double
    }

    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        try x.validate(method: "dictionary learning")
        let n = x.rows, d = x.cols
        let m = options.atoms ?? d
        guard m >= 1 else { throw .option("--atoms", "must be at least 1, got \(m)") }
        guard options.maxIter >= 1 else { throw .option("--max-iter", "must be at least 1, got \(options.maxIter)") }
        guard options.tol >= 0, options.tol.isFinite else { throw .option("--tol", "must be ≥ 0, got \(options.tol)") }
        try check(options, atoms: m, features: d)

        var (dictionary, codes) = try svdStart(x, atoms: m)
        let xd = x.doubles
        var rng = RNG(seed: options.seed, stream: 0)
        var objective: [Double] = []
        var converged = false
        for _ in 0..<options.maxIter {
            codes = try encode(x, dictionary: Matrix(rows: m, cols: d, doubles: dictionary), options,
                               start: codes).values
            updateDictionary(&dictionary, &codes, xd, n: n, d: d, m: m, rng: &rng)
            objective.append(cost(xd, codes, dictionary, n: n, d: d, m: m,
                                  alpha: options.coder == .omp ? 0 : options.alpha))
            if objective.count > 1 {
                let last = objective[objective.count - 1]
                if objective[objective.count - 2] - last < options.tol * last { converged = true; break }
            }
        }
        let nonzeros = codes.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        return Result(dictionary: Matrix(rows: m, cols: d, doubles: dictionary),
                      codes: try Matrix(rows: n, cols: m, values: codes), objective: objective,
                      iterations: objective.count, converged: converged,
                      meanNonzeros: Double(nonzeros) / Double(n))
    }

    /// The codes of `x` over `dictionary` (atoms × d) with `options.coder`, `alpha`,
    /// `nonzeros`, `coderMaxIter`, `coderTol`.
    public static func encode(_ x: Matrix, dictionary: Matrix, _ options: Options) throws(AnalysisError) -> Matrix {
        try x.validate(method: "sparse coding")
        guard dictionary.cols == x.cols, dictionary.rows >= 1 else {
            throw .input("a dictionary of \(dictionary.rows) atoms × \(dictionary.cols) features for samples of \(x.cols)")
        }
        if let bad = dictionary.firstNonFinite {
            throw .input("the dictionary holds \(dictionary[bad.row, bad.column]) at atom \(bad.row), feature \(bad.column)")
        }
        try check(options, atoms: dictionary.rows, features: x.cols)
        return try encode(x, dictionary: dictionary, options, start: nil)
    }

    private static func check(_ options: Options, atoms: Int, features: Int) throws(AnalysisError) {
        guard options.alpha >= 0, options.alpha.isFinite else { throw .option("--alpha", "must be ≥ 0, got \(options.alpha)") }
        guard options.coderMaxIter >= 1 else { throw .option("--max-iter", "the coder needs at least 1 step") }
        guard options.coderTol > 0 else { throw .option("--tol", "the coder's tolerance must be positive") }
        if options.coder == .omp {
            let k = options.nonzeros ?? max(features / 10, 1)
            guard k >= 1, k <= min(atoms, features) else {
                throw .option("--nonzeros", "OMP takes 1 to min(atoms, features) = \(min(atoms, features)) atoms, not \(k)")
            }
        }
    }

    private static func encode(_ x: Matrix, dictionary: Matrix, _ options: Options, start: [Float]?) throws(AnalysisError) -> Matrix {
        let n = x.rows, d = x.cols, m = dictionary.rows
        // correlations C = X·Dᵀ (N × atoms) and the Gram G = D·Dᵀ.
        var c = [Float](repeating: 0, count: n * m)
        var gram = [Float](repeating: 0, count: m * m)
        x.values.withUnsafeBufferPointer { xp in
            dictionary.values.withUnsafeBufferPointer { dp in
                c.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(transB: true, m: n, n: m, k: d, xp.baseAddress!, dp.baseAddress!, cp.baseAddress!, parallel: true)
                }
                gram.withUnsafeMutableBufferPointer { gp in
                    BLAS.gemm(transB: true, m: m, n: m, k: d, dp.baseAddress!, dp.baseAddress!, gp.baseAddress!)
                }
            }
        }
        var codes = start ?? [Float](repeating: 0, count: n * m)
        switch options.coder {
        case .omp:
            var g = [Double](repeating: 0, count: m * m)
            dictionary.values.withUnsafeBufferPointer { dp in
                for a in 0..<m {
                    for b in a..<m {
                        var s = 0.0
                        for f in 0..<d { s += Double(dp[a * d + f]) * Double(dp[b * d + f]) }
                        g[a * m + b] = s; g[b * m + a] = s
                    }
                }
            }
            omp(c, gram: g, n: n, m: m, nonzeros: options.nonzeros ?? max(d / 10, 1), &codes)
        case .fista, .ista:
            let top = try LAPACK.symmetricEigen(gram.map(Double.init), n: m, indices: (m - 1)...(m - 1)).values.first ?? 0
            if top <= 0 {
                codes = [Float](repeating: 0, count: n * m)
            } else {
                proximalGradient(c, gram: gram, n: n, m: m, lipschitz: top, alpha: options.alpha,
                                 accelerated: options.coder == .fista, maxIter: options.coderMaxIter,
                                 tol: options.coderTol, &codes)
            }
        }
        // A Float code of −0 or a denormal left by the iteration counts as zero.
        return try Matrix(rows: n, cols: m, values: codes.map { abs($0) < .leastNormalMagnitude ? 0 : $0 })
    }

    /// ISTA / FISTA on blocks of 128 samples: a ← soft(y − (y·G − C)/L, alpha/L).
    static func proximalGradient(_ c: [Float], gram: [Float], n: Int, m: Int, lipschitz: Double, alpha: Double,
                                 accelerated: Bool, maxIter: Int, tol: Double, _ codes: inout [Float]) {
        let block = 128, blocks = (n + block - 1) / block
        let step = Float(1 / lipschitz), threshold = Float(alpha / lipschitz)
        c.withUnsafeBufferPointer { cp in
        gram.withUnsafeBufferPointer { gp in
        codes.withUnsafeMutableBufferPointer { ap in
            let box = UncheckedSendable((cp, gp, ap))
            Parallel.forChunks(blocks) { _, range in
                let (cp, gp, ap) = box.value
                let size = min(block, n) * m
                var y = [Float](repeating: 0, count: size), grad = [Float](repeating: 0, count: size)
                var previous = [Float](repeating: 0, count: size)
                y.withUnsafeMutableBufferPointer { yb in
                grad.withUnsafeMutableBufferPointer { gb in
                previous.withUnsafeMutableBufferPointer { pb in
                    let y = yb.baseAddress!, grad = gb.baseAddress!, previous = pb.baseAddress!
                    for b in range {
                        let lo = b * block, rows = min(block, n - lo), count = rows * m
                        let a = ap.baseAddress! + lo * m, cb = cp.baseAddress! + lo * m
                        var scale: Float = 0
                        for i in 0..<count { scale = max(scale, abs(cb[i])) }
                        let stop = Float(tol) * max(scale, .leastNormalMagnitude)
                        y.update(from: a, count: count)
                        previous.update(from: a, count: count)
                        var t: Float = 1
                        for _ in 0..<maxIter {
                            BLAS.gemm(m: rows, n: m, k: m, y, gp.baseAddress!, grad)
                            var residual: Float = 0
                            for i in 0..<count {
                                let v = y[i] - step * (grad[i] - cb[i])
                                let s = abs(v) - threshold
                                let next: Float = s > 0 ? (v < 0 ? -s : s) : 0
                                residual = max(residual, abs(next - y[i]))
                                a[i] = next
                            }
                            if residual * Float(lipschitz) <= stop { break }
                            if accelerated {
                                // Gradient restart (O'Donoghue & Candès 2015): drop the momentum
                                // when it points uphill, (y − a)·(a − previous) > 0.
                                var uphill: Float = 0
                                for i in 0..<count { uphill += (y[i] - a[i]) * (a[i] - previous[i]) }
                                if uphill > 0 { t = 1 }
                                let tNext = (1 + (1 + 4 * t * t).squareRoot()) / 2
                                let momentum = (t - 1) / tNext
                                for i in 0..<count {
                                    y[i] = a[i] + momentum * (a[i] - previous[i])
                                    previous[i] = a[i]
                                }
                                t = tNext
                            } else {
                                y.update(from: a, count: count)
                            }
                        }
                    }
                }}}
            }
        }}}
    }

    /// Batch-OMP on the Gram matrix: per sample, add the atom most correlated with the
    /// residual, re-solve least squares on the support (Cholesky grown one row at a time).
    static func omp(_ c: [Float], gram: [Double], n: Int, m: Int, nonzeros: Int, _ codes: inout [Float]) {
        c.withUnsafeBufferPointer { cp in
        codes.withUnsafeMutableBufferPointer { ap in
            let box = UncheckedSendable((cp, ap))
            Parallel.forChunks(n) { _, range in
                let (cp, ap) = box.value
                var alpha0 = [Double](repeating: 0, count: m), alpha = [Double](repeating: 0, count: m)
                var l = [Double](repeating: 0, count: nonzeros * nonzeros)
                var support = [Int](repeating: 0, count: nonzeros), inSupport = [Bool](repeating: false, count: m)
                var gamma = [Double](repeating: 0, count: nonzeros), w = [Double](repeating: 0, count: nonzeros)
                for i in range {
                    for j in 0..<m { alpha0[j] = Double(cp[i * m + j]); alpha[j] = alpha0[j]; inSupport[j] = false }
                    var scale = 0.0
                    for j in 0..<m { scale = max(scale, abs(alpha0[j])) }
                    var size = 0
                    while size < nonzeros {
                        var k = -1, best = 0.0
                        for j in 0..<m where !inSupport[j] && abs(alpha[j]) > best { best = abs(alpha[j]); k = j }
                        if k < 0 || best <= 1e-12 * scale { break }
                        // New Cholesky row: L w = G[S, k], diagonal √(G_kk − w·w).
                        var norm = 0.0
                        for p in 0..<size {
                            var s = gram[support[p] * m + k]
                            for q in 0..<p { s -= l[p * nonzeros + q] * w[q] }
                            w[p] = s / l[p * nonzeros + p]
                            norm += w[p] * w[p]
                        }
                        let diagonal = gram[k * m + k] - norm
                        if diagonal <= 1e-10 * gram[k * m + k] { break }  // dependent on the support
                        for p in 0..<size { l[size * nonzeros + p] = w[p] }
                        l[size * nonzeros + size] = diagonal.squareRoot()
                        support[size] = k; inSupport[k] = true; size += 1
                        // L Lᵀ γ = alpha0[S]; then alpha = alpha0 − G[:, S] γ.
                        for p in 0..<size {
                            var s = alpha0[support[p]]
                            for q in 0..<p { s -= l[p * nonzeros + q] * gamma[q] }
                            gamma[p] = s / l[p * nonzeros + p]
                        }
                        for p in stride(from: size - 1, through: 0, by: -1) {
                            var s = gamma[p]
                            for q in (p + 1)..<max(p + 1, size) { s -= l[q * nonzeros + p] * gamma[q] }
                            gamma[p] = s / l[p * nonzeros + p]
                        }
                        for j in 0..<m {
                            var s = alpha0[j]
                            for p in 0..<size { s -= gram[j * m + support[p]] * gamma[p] }
                            alpha[j] = s
                        }
                    }
                    let row = ap.baseAddress! + i * m
                    row.update(repeating: 0, count: m)
                    for p in 0..<size { row[support[p]] = Float(gamma[p]) }
                }
            }
        }}
    }

    /// scikit-learn's start: X = UΣVᵀ, dictionary = the top rows of ΣVᵀ (zero rows past the
    /// rank), codes = U, signs flipped so each code column's largest |entry| is positive.
    private static func svdStart(_ x: Matrix, atoms m: Int) throws(AnalysisError) -> ([Double], [Float]) {
        let n = x.rows, d = x.cols, r = min(n, d), kept = min(m, r)
        let xd = x.doubles
        var dictionary = [Double](repeating: 0, count: m * d), codes = [Float](repeating: 0, count: n * m)
        // Eigen of the smaller Gram: XᵀX (d × d) or XXᵀ (N × N).
        let small = n >= d ? d : n
        var gram = [Double](repeating: 0, count: small * small)
        if n >= d { LAPACK.gemm(transA: true, m: d, n: d, k: n, xd, xd, &gram) } else { LAPACK.gemm(transB: true, m: n, n: n, k: d, xd, xd, &gram) }
        let eigen = try LAPACK.symmetricEigen(gram, n: small, indices: (small - kept)...(small - 1))
        let top = eigen.values.last ?? 0
        var u = [Double](repeating: 0, count: n), v = [Double](repeating: 0, count: d)
        for j in 0..<kept {
            let src = kept - 1 - j, value = eigen.values[src]
            if value <= max(top, 0) * 1e-12 || value <= 0 { continue }
            let sigma = value.squareRoot()
            let vector = eigen.vectors[(src * small)..<((src + 1) * small)]
            if n >= d {
                for f in 0..<d { v[f] = vector[vector.startIndex + f] }
                for i in 0..<n { var s = 0.0; for f in 0..<d { s += xd[i * d + f] * v[f] }; u[i] = s / sigma }
            } else {
                for i in 0..<n { u[i] = vector[vector.startIndex + i] }
                for f in 0..<d { var s = 0.0; for i in 0..<n { s += xd[i * d + f] * u[i] }; v[f] = s / sigma }
            }
            var biggest = 0.0, sign = 1.0
            for i in 0..<n where abs(u[i]) > biggest { biggest = abs(u[i]); sign = u[i] < 0 ? -1 : 1 }
            for f in 0..<d { dictionary[j * d + f] = sign * sigma * v[f] }
            for i in 0..<n { codes[i * m + j] = Float(sign * u[i]) }
        }
        return (dictionary, codes)
    }

    /// scikit-learn's `_update_dict`: for each atom k, D_k += (B_k − A_k·D)/A_kk with
    /// A = codesᵀcodes, B = Xᵀcodes, then D_k /= max(‖D_k‖, 1); an atom used by no code
    /// (A_kk ≤ 1e-6) becomes a random sample plus 1 % noise and its codes are zeroed.
    private static func updateDictionary(_ dictionary: inout [Double], _ codes: inout [Float], _ x: [Double],
                                         n: Int, d: Int, m: Int, rng: inout RNG) {
        let a64 = codes.map(Double.init)
        var gramA = [Double](repeating: 0, count: m * m), b = [Double](repeating: 0, count: m * d)
        LAPACK.gemm(transA: true, m: m, n: m, k: n, a64, a64, &gramA)
        LAPACK.gemm(transA: true, m: m, n: d, k: n, a64, x, &b)  // Bᵀ: atoms × d
        var row = [Double](repeating: 0, count: d)
        for k in 0..<m {
            if gramA[k * m + k] > 1e-6 {
                for f in 0..<d { row[f] = b[k * d + f] }
                for p in 0..<m where gramA[k * m + p] != 0 {
                    let w = gramA[k * m + p]
                    for f in 0..<d { row[f] -= w * dictionary[p * d + f] }
                }
                let inv = 1 / gramA[k * m + k]
                for f in 0..<d { dictionary[k * d + f] += row[f] * inv }
            } else {
                let s = rng.int(below: n)
                var mean = 0.0, variance = 0.0
                for f in 0..<d { mean += x[s * d + f] }
                mean /= Double(d)
                for f in 0..<d { variance += (x[s * d + f] - mean) * (x[s * d + f] - mean) }
                let sd = (variance / Double(d)).squareRoot()
                let noise = 0.01 * (sd > 0 ? sd : 1)
                for f in 0..<d { dictionary[k * d + f] = x[s * d + f] + noise * Double(rng.normal()) }
                for i in 0..<n { codes[i * m + k] = 0 }
            }
            var norm = 0.0
            for f in 0..<d { norm += dictionary[k * d + f] * dictionary[k * d + f] }
            let divisor = max(norm.squareRoot(), 1)
            for f in 0..<d { dictionary[k * d + f] /= divisor }
        }
    }

    /// ½‖X − A·D‖²_F + alpha‖A‖₁.
    static func cost(_ x: [Double], _ codes: [Float], _ dictionary: [Double], n: Int, d: Int, m: Int, alpha: Double) -> Double {
        let a64 = codes.map(Double.init)
        var fit = [Double](repeating: 0, count: n * d)
        LAPACK.gemm(m: n, n: d, k: m, a64, dictionary, &fit)
        var squares = 0.0
        for i in 0..<(n * d) { let r = x[i] - fit[i]; squares += r * r }
        return 0.5 * squares + alpha * a64.reduce(0) { $0 + abs($1) }
    }
}
