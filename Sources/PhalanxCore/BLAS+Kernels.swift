// Which OpenBLAS kernels this process runs, for layers that shape their GEMMs to them.
//
// A DYNAMIC_ARCH OpenBLAS picks its kernels by CPU when it loads (OPENBLAS_CORETYPE
// overrides the choice). In 0.3.21 only the AVX-512 cores (SkylakeX, Cooperlake,
// SapphireRapids) have the "small matrix" sgemm kernels that skip packing for
// M·N·K ≤ 1e6; elsewhere many small GEMMs cost more than a few large ones.
import CBLAS

extension BLAS {
    /// The name of the kernel set OpenBLAS chose (`SkylakeX`, `Haswell`, `Prescott`, ...).
    public static let coreName: String = String(cString: openblas_get_corename())

    /// Whether sgemm has OpenBLAS's unpacked small-matrix kernels (M·N·K ≤ 1e6).
    public static let hasSmallMatrixKernels: Bool =
        ["skylakex", "cooperlake", "sapphirerapids"].contains(coreName.lowercased())
}
