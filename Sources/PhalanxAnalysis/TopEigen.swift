// The k largest eigenpairs of a dense symmetric n×n matrix (Double) without the O(n³)
// tridiagonalisation of a full eigendecomposition: block Krylov (block Lanczos with full
// reorthogonalisation) and thick restarts. A cycle grows an orthonormal basis
// Q = [Q₀ Q₁ … Q_{s−1}] of s blocks of b columns, Q_{j+1} = orth(A·Q_j ⊥ Q), each product
// one DGEMM over the matrix (row blocks in parallel); Rayleigh–Ritz on T = Qᵀ·(A·Q) (dsyevr on
// the small projected matrix) gives Ritz pairs, the top b of which start the next cycle.
// Converged when every wanted pair has ‖A·v − θ·v‖ ≤ tolerance·max(|θ|, 10⁻⁶·|θ₁|). What ISOMAP's kernel
// PCA needs (the role ARPACK's eigsh plays in scikit-learn). Leaves out: smallest
// eigenvalues, sparse matrices.
import CBLAS
import PhalanxCore

/// The largest eigenvalues and their eigenvectors of a dense symmetric matrix, by block
/// Lanczos with thick restarts (Golub & Underwood 1977; Saad, *Numerical Methods for Large
/// Eigenvalue Problems*, ch. 6); small matrices go to LAPACK's dsyevr directly.
public enum TopEigen {
    /// Eigenpairs in decreasing order of eigenvalue.
    public struct Result: Sendable {
        /// The `k` largest eigenvalues, largest first.
        public var values: [Double]
        /// `k × n`: row `j` is the unit eigenvector of `values[j]`.
        public var vectors: [Double]
        /// Krylov cycles run (0 for the dense path).
        public var cycles: Int
        /// Products of the matrix with a block (matrix reads; 0 for the dense path).
        public var products: Int
        /// The largest ‖A·v − θ·v‖ / max(|θ|, 10⁻⁶·|θ₁|) of the returned pairs (0 for the
        /// dense path; of (A + δI)⁻¹ for `smallest`).
        public var residual: Double
    }

    /// The `count` largest eigenpairs of the symmetric `n×n` row-major matrix `a`.
    /// - Parameters:
    ///   - tolerance: relative residual ‖A·v − θ·v‖ ≤ tolerance·max(|θ|, 10⁻⁶·|θ₁|) for every pair.
    ///   - denseBelow: matrices of at most this order use dsyevr (all of it is cheap there).
    ///   - maxCycles: restarts before giving up with an error naming the residual reached.
    ///   - seed: the random starting block (deterministic for a seed).
    public static func largest(
        _ a: UnsafePointer<Double>, n: Int, count k: Int, tolerance: Double = 1e-10,
        denseBelow: Int = 400, maxCycles: Int = 300, seed: UInt64 = 0
    ) throws(AnalysisError) -> Result {
        precondition(k >= 1 && k <= n, "TopEigen.largest: \(k) eigenpairs of \(n)×\(n)")
        let block = min(n, max(k + 8, 16))
        let depth = 8
        let width = block * depth
        if n <= max(denseBelow, 2 * width) {
            let dense = try LAPACK.symmetricEigen(Array(UnsafeBufferPointer(start: a, count: n * n)), n: n,
                                                  indices: (n - k)...(n - 1))
            var values = [Double](), vectors = [Double]()
            for j in (0..<k).reversed() {
                values.append(dense.values[j])
                vectors.append(contentsOf: dense.vectors[(j * n)..<((j + 1) * n)])
            }
            return Result(values: values, vectors: vectors, cycles: 0, products: 0, residual: 0)
        }
        var krylov = Krylov(op: .matrix(a), n: n, block: block, width: width, seed: seed)
        return try krylov.run(count: k, tolerance: tolerance, maxCycles: maxCycles)
    }

    /// The `count` smallest eigenpairs of the symmetric positive semi-definite `n×n` matrix
    /// `a` by shift-invert: `a` is overwritten by the Cholesky factor of A + δ·I (δ = 10⁻¹²
    /// of the mean diagonal, raised a hundredfold where the factorisation fails), then block
    /// Lanczos finds the largest eigenvalues μ of (A + δI)⁻¹, each product two triangular
    /// solves; λ = 1/μ − δ. What ARPACK's eigsh(sigma=0) does for scikit-learn's LLE. Returns
    /// values ascending (`vectors` row j for `values[j]`), or nil where no δ up to 10⁻⁶ of
    /// the diagonal gives a positive-definite matrix (then the caller goes dense). A known null
    /// vector (`deflating`, LLE's constant vector) is projected out of every product, so that
    /// its eigenvalue 1/δ neither dominates nor spoils the others: the pairs returned are then
    /// the smallest of A restricted to its orthogonal complement.
    public static func smallest(
        overwriting a: UnsafeMutablePointer<Double>, n: Int, count k: Int, deflating null: [Double]? = nil,
        tolerance: Double = 1e-10, maxCycles: Int = 300, seed: UInt64 = 0
    ) throws(AnalysisError) -> Result? {
        precondition(null.map { $0.count == n } ?? true, "TopEigen.smallest: null vector of \(null?.count ?? 0)")
        precondition(k >= 1 && k <= n, "TopEigen.smallest: \(k) eigenpairs of \(n)×\(n)")
        let block = min(n, max(k + 8, 16)), width = block * 8
        guard n > 2 * width else { return nil }
        var meanDiagonal = 0.0
        for i in 0..<n { meanDiagonal += a[i * n + i] }
        meanDiagonal = max(meanDiagonal / Double(n), .leastNormalMagnitude)
        var shift = 1e-12 * meanDiagonal
        // dpotrf (column-major "U") factors in place in the row-major lower triangle and
        // leaves the strict upper one alone: a failed try restores the lower from the upper.
        let diagonal = (0..<n).map { a[$0 * n + $0] }
        var factored = false
        for _ in 0..<4 {
            for i in 0..<n { a[i * n + i] = diagonal[i] + shift }
            var nn = Int32(n), lda = Int32(n), info: Int32 = 0
            var uplo = CChar(UInt8(ascii: "U"))
            dpotrf_(&uplo, &nn, a, &lda, &info, 1)
            if info == 0 { factored = true; break }
            for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { a[j * n + i] = a[i * n + j] } }
            shift *= 100
        }
        guard factored else {
            for i in 0..<n { a[i * n + i] = diagonal[i] }
            return nil
        }
        var krylov = Krylov(op: .inverseCholesky(UnsafePointer(a)), n: n, block: block, width: width, seed: seed)
        if let null {
            let norm = null.reduce(0) { $0 + $1 * $1 }.squareRoot()
            krylov.null = null.map { $0 / norm }
        }
        var r = try krylov.run(count: k, tolerance: tolerance, maxCycles: maxCycles)
        r.values = r.values.map { 1 / $0 - shift }
        return r
    }

    /// The same for a matrix held in an array.
    public static func largest(_ a: [Double], n: Int, count k: Int, tolerance: Double = 1e-10,
                               denseBelow: Int = 400, seed: UInt64 = 0) throws(AnalysisError) -> Result {
        precondition(a.count == n * n, "TopEigen.largest: \(a.count) values for \(n)×\(n)")
        return try a.withUnsafeBufferPointer { p throws(AnalysisError) in
            try largest(p.baseAddress!, n: n, count: k, tolerance: tolerance, denseBelow: denseBelow, seed: seed)
        }
    }
}

/// The operator a Krylov solve applies: a dense matrix, or (L·Lᵀ)⁻¹ for a lower Cholesky
/// factor L held row-major in the lower triangle.
private enum KrylovOperator {
    case matrix(UnsafePointer<Double>)
    case inverseCholesky(UnsafePointer<Double>)
}

/// The state of one block Krylov solve: basis Q (n × width, row-major) and A·Q beside it.
private struct Krylov {
    let op: KrylovOperator
    let n: Int, block: Int, width: Int
    var q: [Double], aq: [Double]
    var rng: RNG
    var products = 0
    /// A unit vector kept out of the basis and of every product.
    var null: [Double]?

    init(op: KrylovOperator, n: Int, block: Int, width: Int, seed: UInt64) {
        self.op = op; self.n = n; self.block = block; self.width = width
        q = [Double](repeating: 0, count: n * width)
        aq = [Double](repeating: 0, count: n * width)
        rng = RNG(seed: seed, stream: 0x70e1)
    }

    mutating func run(count k: Int, tolerance: Double, maxCycles: Int) throws(AnalysisError) -> TopEigen.Result {
        let b = block, w = width, n = self.n
        // Random starting block, orthonormalised.
        for i in 0..<n { for c in 0..<b { q[i * w + c] = Double(rng.normal()) } }
        orthonormalise(columns: 0..<b)
        multiply(columns: 0..<b)
        var ritz = [Double](repeating: 0, count: n * b), aRitz = [Double](repeating: 0, count: n * b)
        var theta = [Double](repeating: 0, count: b)
        var residual = Double.infinity
        for cycle in 1...maxCycles {
            // Grow the basis: Q_{j+1} = orth(A·Q_j).
            for j in 1..<(w / b) {
                let cols = (j * b)..<((j + 1) * b)
                for i in 0..<n { for c in 0..<b { q[i * w + cols.lowerBound + c] = aq[i * w + cols.lowerBound - b + c] } }
                orthonormalise(columns: cols)
                multiply(columns: cols)
            }
            // Rayleigh–Ritz on T = Qᵀ·A·Q, symmetrised.
            var t = [Double](repeating: 0, count: w * w)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(w), Int32(w), Int32(n), 1,
                        q, Int32(w), aq, Int32(w), 0, &t, Int32(w))
            for r in 0..<w { for c in (r + 1)..<max(r + 1, w) {
                let s = 0.5 * (t[r * w + c] + t[c * w + r]); t[r * w + c] = s; t[c * w + r] = s
            } }
            let eig = try LAPACK.symmetricEigen(t, n: w, indices: (w - b)...(w - 1))
            // Y (w × b): column c is the eigenvector of the c-th largest Ritz value.
            var y = [Double](repeating: 0, count: w * b)
            for c in 0..<b {
                let src = b - 1 - c
                theta[c] = eig.values[src]
                for r in 0..<w { y[r * b + c] = eig.vectors[src * w + r] }
            }
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(b), Int32(w), 1,
                        q, Int32(w), y, Int32(b), 0, &ritz, Int32(b))
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(b), Int32(w), 1,
                        aq, Int32(w), y, Int32(b), 0, &aRitz, Int32(b))
            // Residuals of the wanted pairs, each relative to its own eigenvalue (but at least
            // 10⁻⁶ of the largest, so that a zero eigenvalue can converge).
            residual = 0
            for c in 0..<k {
                var s = 0.0
                for i in 0..<n { let r = aRitz[i * b + c] - theta[c] * ritz[i * b + c]; s += r * r }
                let scale = max(abs(theta[c]), 1e-6 * abs(theta[0]), .leastNormalMagnitude)
                residual = max(residual, s.squareRoot() / scale)
            }
            if residual <= tolerance || theta[0] == 0 {
                var vectors = [Double](repeating: 0, count: k * n)
                for c in 0..<k { for i in 0..<n { vectors[c * n + i] = ritz[i * b + c] } }
                return TopEigen.Result(values: Array(theta.prefix(k)), vectors: vectors, cycles: cycle,
                                       products: products, residual: residual)
            }
            // Thick restart: the Ritz block and its product become Q₀ and A·Q₀.
            for i in 0..<n { for c in 0..<b { q[i * w + c] = ritz[i * b + c]; aq[i * w + c] = aRitz[i * b + c] } }
        }
        throw .option("--tol", "the top-\(k) eigenvectors of the \(n)×\(n) kernel matrix reached a relative residual of "
                      + "\(residual), not \(tolerance), in \(maxCycles) block Lanczos cycles")
    }

    /// A·Q[:, cols] into A·Q[:, cols]: row blocks of A in parallel (one DGEMM each), or
    /// column blocks solved by L then Lᵀ (DTRSM).
    mutating func multiply(columns cols: Range<Int>) {
        let n = self.n, w = width
        products += 1
        guard case .matrix(let a) = op else {
            guard case .inverseCholesky(let l) = op else { return }
            for i in 0..<n { for c in cols { aq[i * w + c] = q[i * w + c] } }
            aq.withUnsafeMutableBufferPointer { ap in
                let aBox = UncheckedSendable(ap)
                Parallel.forChunks(cols.count) { _, part in
                    let x = aBox.value.baseAddress! + cols.lowerBound + part.lowerBound
                    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, Int32(n),
                                Int32(part.count), 1, l, Int32(n), x, Int32(w))
                    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, Int32(n),
                                Int32(part.count), 1, l, Int32(n), x, Int32(w))
                }
            }
            if let u = null { for c in cols { project(&aq, column: c, out: u) } }
            return
        }
        q.withUnsafeBufferPointer { qp in
            aq.withUnsafeMutableBufferPointer { ap in
                let qBox = UncheckedSendable(qp), aBox = UncheckedSendable(ap)
                Parallel.forChunks(n, grain: 64) { _, rows in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows.count), Int32(cols.count),
                                Int32(n), 1, a + rows.lowerBound * n, Int32(n), qBox.value.baseAddress! + cols.lowerBound,
                                Int32(w), 0, aBox.value.baseAddress! + rows.lowerBound * w + cols.lowerBound, Int32(w))
                }
            }
        }
    }

    /// Makes Q[:, cols] orthonormal and orthogonal to Q[:, 0..<cols.lowerBound]: two passes of
    /// block Gram–Schmidt against the earlier columns, then modified Gram–Schmidt within the
    /// block; a column that vanishes (the Krylov space became invariant) is replaced by a
    /// random one, orthogonalised in turn.
    mutating func orthonormalise(columns cols: Range<Int>) {
        let n = self.n, w = width, lo = cols.lowerBound, b = cols.count
        var norms0 = [Double](repeating: 0, count: b)
        for c in 0..<b {
            var s = 0.0
            for i in 0..<n { let v = q[i * w + lo + c]; s += v * v }
            norms0[c] = s.squareRoot()
        }
        if let u = null { for c in cols { project(&q, column: c, out: u) } }
        projectOut(columns: cols, against: 0..<lo)
        for c in 0..<b {
            let col = lo + c
            var attempt = 0
            while true {
                for _ in 0..<2 {
                    for p in lo..<col {
                        var dot = 0.0
                        for i in 0..<n { dot += q[i * w + p] * q[i * w + col] }
                        for i in 0..<n { q[i * w + col] -= dot * q[i * w + p] }
                    }
                }
                var s = 0.0
                for i in 0..<n { let v = q[i * w + col]; s += v * v }
                let norm = s.squareRoot()
                if norm > 1e-10 * max(norms0[c], .leastNormalMagnitude) && norm > 0 {
                    for i in 0..<n { q[i * w + col] /= norm }
                    break
                }
                // Breakdown: a fresh random direction, orthogonal to everything so far.
                attempt += 1
                precondition(attempt < 50, "TopEigen: no new direction found")
                for i in 0..<n { q[i * w + col] = Double(rng.normal()) }
                norms0[c] = Double(n).squareRoot()
                if let u = null { project(&q, column: col, out: u) }
                projectOut(columns: col..<(col + 1), against: 0..<lo)
            }
        }
    }

    /// m[:, column] −= u·(uᵀ·m[:, column]) for the unit vector u (twice, for accuracy).
    func project(_ m: inout [Double], column c: Int, out u: [Double]) {
        let n = self.n, w = width
        for _ in 0..<2 {
            var dot = 0.0
            for i in 0..<n { dot += u[i] * m[i * w + c] }
            for i in 0..<n { m[i * w + c] -= dot * u[i] }
        }
    }

    /// Q[:, cols] −= P·(Pᵀ·Q[:, cols]) for P = Q[:, against], twice (classical Gram–Schmidt
    /// repeated, which is as stable as the modified form).
    mutating func projectOut(columns cols: Range<Int>, against: Range<Int>) {
        guard !against.isEmpty else { return }
        let n = self.n, w = width, m = against.count, b = cols.count
        var coeff = [Double](repeating: 0, count: m * b)
        q.withUnsafeMutableBufferPointer { qp in
            let base = qp.baseAddress!
            for _ in 0..<2 {
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(b), Int32(n), 1,
                            base + against.lowerBound, Int32(w), base + cols.lowerBound, Int32(w), 0, &coeff, Int32(b))
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(b), Int32(m), -1,
                            base + against.lowerBound, Int32(w), coeff, Int32(b), 1, base + cols.lowerBound, Int32(w))
            }
        }
    }
}
