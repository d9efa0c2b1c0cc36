// Out-of-place matrix transpose through OpenBLAS's somatcopy extension, row-major,
// with leading dimensions so that blocks of larger matrices can be moved.
import CBLAS

extension BLAS {
    /// b = aᵀ: `a` is rows×cols with rows `lda` apart, `b` cols×rows with rows `ldb` apart.
    @inlinable
    public static func transpose(rows: Int, cols: Int, _ a: UnsafePointer<Float>, lda: Int? = nil,
                                 _ b: UnsafeMutablePointer<Float>, ldb: Int? = nil) {
        if rows == 0 || cols == 0 { return }
        cblas_somatcopy(CblasRowMajor, CblasTrans, Int32(rows), Int32(cols), 1,
                        a, Int32(lda ?? cols), b, Int32(ldb ?? rows))
    }
}
