// Dense symmetric eigendecomposition, Cholesky and linear solves through the LAPACK that
// Debian's OpenBLAS exports (dsyevr: relatively robust representations, the fastest
// symmetric eigensolver there when only some eigenpairs are wanted), in Double.
import CBLAS

/// LAPACK calls on row-major Double matrices.
public enum LAPACK {
    /// Eigenvalues (ascending) and eigenvectors of the symmetric `n×n` matrix `a`.
    /// With `indices` (0-based, ascending order of eigenvalues) only those are computed.
    /// `vectors` holds one eigenvector per row: `m × n`, row `j` for `values[j]`.
    public static func symmetricEigen(_ a: [Double], n: Int, indices: ClosedRange<Int>? = nil)
        throws(AnalysisError) -> (values: [Double], vectors: [Double]) {
        precondition(a.count == n * n, "LAPACK.symmetricEigen: \(a.count) values for \(n)×\(n)")
        if n == 0 { return ([], []) }
        if let r = indices { precondition(r.lowerBound >= 0 && r.upperBound < n, "LAPACK.symmetricEigen: indices \(r) of \(n)") }
        var work = a  // symmetric: row- and column-major are the same matrix
        var nn = Int32(n), lda = Int32(n), ldz = Int32(n)
        var vl = 0.0, vu = 0.0, abstol = 0.0
        var il = Int32((indices?.lowerBound ?? 0) + 1), iu = Int32((indices?.upperBound ?? (n - 1)) + 1)
        let wanted = indices.map { $0.count } ?? n
        var m: Int32 = 0, info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: n * max(wanted, 1))
        var isuppz = [Int32](repeating: 0, count: 2 * max(wanted, 1))
        var jobz = CChar(UInt8(ascii: "V")), range = CChar(UInt8(ascii: indices == nil ? "A" : "I"))
        var uplo = CChar(UInt8(ascii: "L"))
        // Workspace query, then the call.
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workSize = 0.0, iworkSize: Int32 = 0
        dsyevr_(&jobz, &range, &uplo, &nn, &work, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz,
                &workSize, &lwork, &iworkSize, &liwork, &info, 1, 1, 1)
        lwork = Int32(workSize.rounded(.up)); liwork = iworkSize
        var scratch = [Double](repeating: 0, count: Int(max(lwork, 1)))
        var iscratch = [Int32](repeating: 0, count: Int(max(liwork, 1)))
        dsyevr_(&jobz, &range, &uplo, &nn, &work, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz,
                &scratch, &lwork, &iscratch, &liwork, &info, 1, 1, 1)
        guard info == 0 else {
            throw .input("the eigendecomposition of a \(n)×\(n) matrix failed (LAPACK dsyevr info \(info))")
        }
        let got = Int(m)
        // z is column-major n × m: column j (eigenvector j) is contiguous — row j of m × n.
        return (Array(w.prefix(got)), Array(z.prefix(got * n)))
    }

    /// The lower Cholesky factor L (row-major, zeros above the diagonal) of the symmetric
    /// positive-definite `n×n` matrix `a`, or nil where `a` is not positive definite.
    public static func cholesky(_ a: [Double], n: Int) -> [Double]? {
        precondition(a.count == n * n, "LAPACK.cholesky: \(a.count) values for \(n)×\(n)")
        if n == 0 { return [] }
        // Row-major lower = column-major upper.
        var f = a
        var nn = Int32(n), lda = Int32(n), info: Int32 = 0
        var uplo = CChar(UInt8(ascii: "U"))
        dpotrf_(&uplo, &nn, &f, &lda, &info, 1)
        guard info == 0 else { return nil }
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { f[i * n + j] = 0 } }
        return f
    }

    /// The solution X of A·X = B for the `n×n` matrix `a` and `n × nrhs` right-hand sides
    /// `b` (both row-major), or nil where A is singular.
    public static func solve(_ a: [Double], n: Int, _ b: [Double], nrhs: Int) -> [Double]? {
        precondition(a.count == n * n && b.count == n * nrhs, "LAPACK.solve: shapes")
        if n == 0 { return [] }
        // Solve Aᵀ in column-major terms = A in row-major: transpose explicitly.
        var at = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { at[j * n + i] = a[i * n + j] } }
        var bt = [Double](repeating: 0, count: n * nrhs)
        for i in 0..<n { for j in 0..<nrhs { bt[j * n + i] = b[i * nrhs + j] } }
        var nn = Int32(n), nr = Int32(nrhs), lda = Int32(n), ldb = Int32(n), info: Int32 = 0
        var pivots = [Int32](repeating: 0, count: n)
        dgesv_(&nn, &nr, &at, &lda, &pivots, &bt, &ldb, &info)
        guard info == 0 else { return nil }
        var x = [Double](repeating: 0, count: n * nrhs)
        for i in 0..<n { for j in 0..<nrhs { x[i * nrhs + j] = bt[j * n + i] } }
        return x
    }

    /// C = alpha·op(A)·op(B) for row-major Doubles, op(A) m×k and op(B) k×n (OpenBLAS DGEMM).
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Double = 1,
                            _ a: [Double], _ b: [Double], _ c: inout [Double]) {
        if m == 0 || n == 0 { return }
        if k == 0 { for i in 0..<(m * n) { c[i] = 0 }; return }
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(transA ? m : k), b, Int32(transB ? k : n), 0, &c, Int32(n))
    }
}
