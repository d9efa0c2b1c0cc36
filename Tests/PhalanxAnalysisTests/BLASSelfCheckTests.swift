import XCTest
@testable import PhalanxAnalysis
import PhalanxCore

/// The BLAS self-check passes on the loaded kernels, and its bound catches products that
/// are wrong by as little as one dropped term or one wrong element.
final class BLASSelfCheckTests: XCTestCase {
    func testLoadedKernelsPass() {
        let report = BLASSelfCheck.run(sgemmShapes: [(3, 5, 7), (32, 64, 48), (17, 1, 9)])
        XCTAssertTrue(report.passed, "failed: \(report.failures)")
        XCTAssertGreaterThan(report.checks.count, 24)
        XCTAssertGreaterThan(report.sgemmGFLOPS, 0)
    }

    func testBoundCatchesWrongProducts() {
        var rng = RNG(seed: 1)
        // A product that skips the last term of every dot product.
        let dropsTerm: BLASSelfCheck.SGEMM = { ta, tb, m, n, k, beta, a, lda, b, ldb, c, ldc in
            for i in 0..<m { for j in 0..<n {
                var s: Float = 0
                for p in 0..<(k - 1) { s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]) }
                c[i * ldc + j] = s + beta * c[i * ldc + j]
            } }
        }
        XCTAssertFalse(BLASSelfCheck.checkSGEMM(8, 9, 40, false, true, 1, pad: 0, &rng, gemm: dropsTerm).passed)
        // A correct product that also writes into C's padding.
        let spills: BLASSelfCheck.SGEMM = { ta, tb, m, n, k, beta, a, lda, b, ldb, c, ldc in
            BLASSelfCheck.openBLAS(ta, tb, m, n, k, beta, a, lda, b, ldb, c, ldc)
            c[n] = 42
        }
        XCTAssertFalse(BLASSelfCheck.checkSGEMM(4, 5, 6, false, false, 0, pad: 3, &rng, gemm: spills).passed)
        // A correct product in Double, rounded, passes.
        let exact: BLASSelfCheck.SGEMM = { ta, tb, m, n, k, beta, a, lda, b, ldb, c, ldc in
            for i in 0..<m { for j in 0..<n {
                var s = Double(beta) * Double(c[i * ldc + j])
                for p in 0..<k { s += Double(ta ? a[p * lda + i] : a[i * lda + p]) * Double(tb ? b[j * ldb + p] : b[p * ldb + j]) }
                c[i * ldc + j] = Float(s)
            } }
        }
        XCTAssertTrue(BLASSelfCheck.checkSGEMM(8, 9, 40, true, false, 1, pad: 3, &rng, gemm: exact).passed)
    }
}
