// Locally linear embedding, scikit-learn's LocallyLinearEmbedding(method='standard',
// n_neighbors=5, n_components=2, reg=1e-3): each sample's barycentric weights over its k
// nearest neighbours (local Gram matrix G = Z·Zᵀ of the neighbours minus the sample,
// G += reg·trace(G)·I, G·w = 1, w /= Σw), then the bottom components + 1 eigenvectors of
// M = (I − W)ᵀ(I − W), the constant one dropped. M is formed dense (n×n Doubles); its
// bottom eigenpairs come by shift-invert as scikit-learn's ARPACK eigsh(sigma=0) does, here
// a dense Cholesky of M + δI (n³/3 flops, in place) and block Lanczos on (M + δI)⁻¹, or from
// dsyevr for n ≤ 256. Leaves out: sparse factorisation (M has ~k² non-zeros a row), the
// modified/Hessian/LTSA variants, transform of new points.
import PhalanxCore

/// Locally linear embedding (Roweis & Saul, "Nonlinear dimensionality reduction by locally
/// linear embedding", Science 2000), standard method.
///
/// Options: `neighbors` (`--neighbors`, 5), `components` (`--components`, 2), `regularization`
/// (scikit-learn's reg, scaled by the local Gram matrix's trace; `--reg`, 1e-3) and `maxPoints`
/// (refuses larger inputs, the dense M needing 8·n² bytes; `--max-points`, 10 000) and
/// `tolerance` (relative eigen-residual of the shift-invert solver, `--tol`, 1e-10).
public enum LLE {
    public struct Options: Sendable {
        /// Neighbours reconstructing each sample (`--neighbors`).
        public var neighbors = 5
        /// Output dimensions (`--components`).
        public var components = 2
        /// Tikhonov regularisation of the local Gram matrix, times its trace (`--reg`).
        public var regularization = 1e-3
        /// The most samples accepted: the dense M takes 8·n² bytes (`--max-points`).
        public var maxPoints = 10_000
        /// Relative residual of the shift-invert eigensolver (`--tol`).
        public var tolerance = 1e-10
        public init() {}
    }

    public struct Result: Sendable {
        /// `n × components`: eigenvectors 1…components of M (unit length, as scikit-learn's
        /// embedding_), each column's largest-magnitude entry made positive.
        public var embedding: Matrix
        /// Their eigenvalues, ascending.
        public var eigenvalues: [Double]
        /// Σ of those eigenvalues, as scikit-learn's reconstruction_error_.
        public var reconstructionError: Double
        /// `n × neighbors` barycentric weights (rows sum to 1) and their neighbour indices.
        public var weights: [Double]
        public var neighborIndices: [Int32]
    }

    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        try x.validate(minimumRows: 2, method: "LLE")
        let n = x.rows, d = x.cols, k = options.neighbors, c = options.components
        guard c >= 1, c <= d, c + 1 <= n else {
            throw .option("--components", "\(c) components of \(n) samples with \(d) features; need 1...\(min(d, n - 1))")
        }
        guard k >= 1, k < n else {
            throw .option("--neighbors", "\(k) neighbours of \(n) samples; need 1...\(n - 1)")
        }
        guard options.regularization >= 0, options.regularization.isFinite else {
            throw .option("--reg", "must be a non-negative number, got \(options.regularization)")
        }
        guard options.tolerance > 0, options.tolerance.isFinite else {
            throw .option("--tol", "must be a positive number, got \(options.tolerance)")
        }
        guard n <= options.maxPoints else {
            throw .option("--max-points", "LLE holds the dense n×n matrix M of Doubles: \(n) samples need "
                          + "\(Isomap.formatBytes(8 * n * n)), over --max-points \(options.maxPoints); "
                          + "raise --max-points or subsample")
        }
        let knn = try Neighbors.nearest(x, k: k)
        let weights = try barycenterWeights(x, knn, regularization: options.regularization)

        // M = (I − W)ᵀ(I − W) = I − W − Wᵀ + WᵀW, from the sparse rows of W.
        var m = [Double](repeating: 0, count: n * n)
        for i in 0..<n { m[i * n + i] = 1 }
        for i in 0..<n {
            for a in 0..<k {
                let ja = knn.neighbor(i, a), wa = weights[i * k + a]
                m[i * n + ja] -= wa
                m[ja * n + i] -= wa
                for b in 0..<k { m[ja * n + knn.neighbor(i, b)] += wa * weights[i * k + b] }
            }
        }
        // Shift-invert block Lanczos on the Cholesky factor of M + δI, the constant vector (M's
        // null vector: rows of W sum to 1) deflated; dsyevr where n is small or M + δI is not
        // numerically positive definite.
        let inverse = try m.withUnsafeMutableBufferPointer { p throws(AnalysisError) in
            try TopEigen.smallest(overwriting: p.baseAddress!, n: n, count: c,
                                  deflating: [Double](repeating: 1, count: n), tolerance: options.tolerance)
        }
        // Row 0 of the vectors: the constant (null) eigenvector, dropped below.
        let eig: (values: [Double], vectors: [Double])
        if let inverse {
            eig = ([0] + inverse.values, [Double](repeating: 1 / Double(n).squareRoot(), count: n) + inverse.vectors)
        } else {
            eig = try LAPACK.symmetricEigen(m, n: n, indices: 0...c)
        }
        guard eig.values.count == c + 1 else {
            throw .input("LLE: the eigensolver returned \(eig.values.count) of \(c + 1) eigenpairs of M")
        }
        var embedding = Matrix(rows: n, cols: c)
        for j in 0..<c {
            let v = eig.vectors[((j + 1) * n)..<((j + 2) * n)]
            var big = v.startIndex
            for i in v.indices where abs(v[i]) > abs(v[big]) { big = i }
            let sign: Double = v[big] < 0 ? -1 : 1
            for i in 0..<n { embedding.values[i * c + j] = Float(sign * v[v.startIndex + i]) }
        }
        let used = Array(eig.values[1...c])
        return Result(embedding: embedding, eigenvalues: used, reconstructionError: used.reduce(0, +),
                      weights: weights, neighborIndices: knn.indices)
    }

    /// The weights reconstructing each sample from its neighbours (scikit-learn's
    /// barycenter_weights): `n × k`, each row summing to 1.
    static func barycenterWeights(_ x: Matrix, _ knn: NeighborGraph, regularization reg: Double)
        throws(AnalysisError) -> [Double] {
        let n = x.rows, d = x.cols, k = knn.k
        var weights = [Double](repeating: 0, count: n * k)
        var failed = [Int](repeating: -1, count: Parallel.threads)
        x.values.withUnsafeBufferPointer { xp in
        weights.withUnsafeMutableBufferPointer { wp in
        failed.withUnsafeMutableBufferPointer { fp in
            let xBox = UncheckedSendable(xp), wBox = UncheckedSendable(wp), fBox = UncheckedSendable(fp)
            Parallel.forChunks(n) { chunk, rows in
                let xv = xBox.value.baseAddress!
                var z = [Double](repeating: 0, count: k * d)
                var g = [Double](repeating: 0, count: k * k)
                let ones = [Double](repeating: 1, count: k)
                for i in rows {
                    let xi = xv + i * d
                    for a in 0..<k {
                        let xa = xv + knn.neighbor(i, a) * d
                        for f in 0..<d { z[a * d + f] = Double(xa[f]) - Double(xi[f]) }
                    }
                    var trace = 0.0
                    z.withUnsafeBufferPointer { zp in
                        for a in 0..<k {
                            for b in a..<k {
                                var s = 0.0
                                let za = zp.baseAddress! + a * d, zb = zp.baseAddress! + b * d
                                for f in 0..<d { s += za[f] * zb[f] }
                                g[a * k + b] = s; g[b * k + a] = s
                            }
                            trace += g[a * k + a]
                        }
                    }
                    let r = trace > 0 ? reg * trace : reg
                    for a in 0..<k { g[a * k + a] += r }
                    guard let w = LAPACK.solve(g, n: k, ones, nrhs: 1) else {
                        if fBox.value[chunk] < 0 { fBox.value[chunk] = i }
                        continue
                    }
                    let total = w.reduce(0, +)
                    for a in 0..<k { wBox.value[i * k + a] = w[a] / total }
                }
            }
        }}}
        if let bad = failed.first(where: { $0 >= 0 }) {
            throw .option("--reg", "the local Gram matrix of sample \(bad) is singular (its neighbours coincide); "
                          + "use a positive --reg")
        }
        return weights
    }
}
