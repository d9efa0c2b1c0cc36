// Principal component analysis by the eigenvectors of the covariance matrix (the course's
// "space transform"; scikit-learn's PCA with svd_solver='full' gives the same subspace).
//
// Data-parallel: every rank sums its rows and then its centred scatter matrix Xcᵀ·Xc
// (DSYRK in Double, in blocks of rows); the sums are allreduced, so every rank holds the
// same d×d covariance and the same eigendecomposition (LAPACK dsyevr) as one process.
import CBLAS
import PhalanxCore

/// Principal components: the directions of largest variance, in decreasing order.
public enum PCA {
    public struct Options: Sendable {
        /// Components kept (`--components`); nil keeps min(samples, features).
        public var components: Int?
        /// Scale the projections to unit variance (`--whiten`).
        public var whiten = false
        public init() {}
    }

    public struct Result: Sendable {
        /// `k × d`: one unit-length component per row, the sign chosen so that its
        /// largest-magnitude entry is positive (deterministic, as scikit-learn's svd_flip).
        public var components: Matrix
        /// Variance along each component (eigenvalues of the covariance, denominator n − 1).
        public var explainedVariance: [Double]
        /// `explainedVariance` over the total variance (the covariance's trace).
        public var explainedVarianceRatio: [Double]
        /// √((n − 1)·variance), as scikit-learn's singular_values_.
        public var singularValues: [Double]
        /// The mean sample, subtracted before projecting.
        public var mean: [Double]
        /// The mean of the variances left out (probabilistic PCA's σ²; 0 when all are kept).
        public var noiseVariance: Double
        public var whiten: Bool
        public var samples: Int

        /// Projects `x` (rows of the fitted width) on the components: (x − mean)·Vᵀ,
        /// divided by √variance when whitening.
        public func transform(_ x: Matrix) -> Matrix {
            let k = components.rows, d = components.cols
            precondition(x.cols == d, "PCA.transform: \(x.cols) features, fitted on \(d)")
            var centred = x
            for i in 0..<x.rows { for j in 0..<d { centred.values[i * d + j] -= Float(mean[j]) } }
            var out = Matrix(rows: x.rows, cols: k)
            centred.values.withUnsafeBufferPointer { a in
                components.values.withUnsafeBufferPointer { v in
                    out.values.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(transB: true, m: x.rows, n: k, k: d, a.baseAddress!, v.baseAddress!, c.baseAddress!,
                                  parallel: true)
                    }
                }
            }
            if whiten {
                for j in 0..<k {
                    let s = Float(1 / max(explainedVariance[j], .leastNormalMagnitude).squareRoot())
                    for i in 0..<x.rows { out.values[i * k + j] *= s }
                }
            }
            return out
        }
    }

    /// Fits on one process's matrix.
    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        do { return try fit(Shard(x), options) } catch let e as AnalysisError { throw e } catch {
            throw .input("\(error)")  // a world of one does not fail its collectives
        }
    }

    /// Fits on the rows of every rank's shard; every rank gets the same result.
    public static func fit(_ shard: Shard, _ options: Options) throws -> Result {
        let x = shard.local, d = x.cols, n = shard.total
        try x.validate(minimumRows: 0, method: "PCA")
        guard n >= 2 else { throw AnalysisError.input("PCA needs at least 2 samples, got \(n)") }
        let maxComponents = min(n, d)
        let k = options.components ?? maxComponents
        guard k >= 1, k <= maxComponents else {
            throw AnalysisError.option("--components", "\(k) components of \(n) samples with \(d) features; at most \(maxComponents)")
        }
        // Mean.
        var sums = [Double](repeating: 0, count: d)
        for i in 0..<x.rows { for j in 0..<d { sums[j] += Double(x.values[i * d + j]) } }
        try shard.sum(&sums)
        let mean = sums.map { $0 / Double(n) }
        // Scatter of the centred rows, the lower triangle of a row-major d×d, in row blocks.
        var scatter = [Double](repeating: 0, count: d * d)
        let block = 2048
        var centred = [Double](repeating: 0, count: min(block, max(x.rows, 1)) * d)
        var start = 0
        while start < x.rows {
            let rows = min(block, x.rows - start)
            for i in 0..<rows { for j in 0..<d { centred[i * d + j] = Double(x.values[(start + i) * d + j]) - mean[j] } }
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(d), Int32(rows), 1, centred, Int32(d), 1,
                        &scatter, Int32(d))
            start += rows
        }
        try shard.sum(&scatter)
        for i in 0..<d { for j in (i + 1)..<max(i + 1, d) { scatter[i * d + j] = scatter[j * d + i] } }
        let denominator = Double(n - 1)
        let all = try LAPACK.symmetricEigen(scatter, n: d)
        let variances = all.values.reversed().map { max($0, 0) / denominator }
        let total = variances.reduce(0, +)
        var components = Matrix(rows: k, cols: d)
        for c in 0..<k {
            let source = d - 1 - c  // ascending → descending
            var sign = 1.0, largest = -1.0
            for j in 0..<d where abs(all.vectors[source * d + j]) > largest {
                largest = abs(all.vectors[source * d + j]); sign = all.vectors[source * d + j] < 0 ? -1 : 1
            }
            for j in 0..<d { components.values[c * d + j] = Float(sign * all.vectors[source * d + j]) }
        }
        let kept = Array(variances.prefix(k))
        let rest = variances.dropFirst(k)
        return Result(components: components, explainedVariance: kept,
                      explainedVarianceRatio: kept.map { total > 0 ? $0 / total : 0 },
                      singularValues: kept.map { ($0 * denominator).squareRoot() }, mean: mean,
                      noiseVariance: rest.isEmpty || k >= min(n, d) ? 0 : rest.prefix(min(n, d) - k).reduce(0, +) / Double(min(n, d) - k),
                      whiten: options.whiten, samples: n)
    }
}
