// Dense algebra through OpenBLAS's CBLAS: GEMM with all transposes, row-major.
//
// OpenBLAS runs single-threaded; `gemm(..., parallel: true)` splits C into row or
// column blocks over `Parallel.threads`, which is how Phalanx uses the cores.
import CBLAS

/// Row-major matrix products and vector kernels on raw pointers.
public enum BLAS {
    private static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// Sets OpenBLAS's own thread count (Phalanx keeps it at 1; the benchmark varies it).
    public static func setOpenBLASThreads(_ n: Int) {
        _ = singleThreaded
        openblas_set_num_threads(Int32(n))
    }

    /// C = alpha · op(A) · op(B) + beta · C, with op(A) m×k, op(B) k×n, C m×n, all row-major.
    /// `lda`, `ldb`, `ldc` default to the tight row strides of the stored matrices.
    @inlinable
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        _ a: UnsafePointer<Float>, lda: Int? = nil,
        _ b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0,
        _ c: UnsafeMutablePointer<Float>, ldc: Int? = nil,
        parallel: Bool = false
    ) {
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        if m == 0 || n == 0 { return }
        let threads = parallel ? Parallel.threads : 1
        // Split only when each block keeps a GEMM worth running (~0.5 MFLOP).
        if threads > 1 && m * n * k >= 1 << 18 {
            if m >= n {
                Parallel.forEach(m, grain: 8) { rows in
                    let aBlock = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
                    rawGemm(transA, transB, rows.count, n, k, alpha, aBlock, lda, b, ldb, beta,
                            c + rows.lowerBound * ldc, ldc)
                }
            } else {
                Parallel.forEach(n, grain: 16) { cols in
                    let bBlock = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
                    rawGemm(transA, transB, m, cols.count, k, alpha, a, lda, bBlock, ldb, beta,
                            c + cols.lowerBound, ldc)
                }
            }
        } else {
            rawGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    @usableFromInline
    static func rawGemm(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        _ = singleThreaded
        if k == 0 {
            // BLAS leaves C untouched for k = 0 only when beta = 1; make it explicit.
            if beta == 0 {
                for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            } else if beta != 1 {
                for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            }
            return
        }
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y += alpha · x over `n` elements.
    @inlinable
    public static func axpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        cblas_saxpy(Int32(n), alpha, x, 1, y, 1)
    }

    /// x · y over `n` elements.
    @inlinable
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        cblas_sdot(Int32(n), x, 1, y, 1)
    }

    /// x *= alpha over `n` elements.
    @inlinable
    public static func scale(_ n: Int, _ alpha: Float, _ x: UnsafeMutablePointer<Float>) {
        cblas_sscal(Int32(n), alpha, x, 1)
    }
}
