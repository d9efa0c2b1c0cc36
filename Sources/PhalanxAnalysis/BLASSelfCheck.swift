// The BLAS self-check: every OpenBLAS and LAPACK routine Phalanx calls, on the shape
// classes it calls them with, against a Double reference computed here — run once per
// candidate kernel set (OPENBLAS_CORETYPE) in a child process by `phalanx bench kernels
// --self-check`, which keeps the fastest set that passes.
//
// Single-precision products are judged against the rounding-error bound of a dot product
// of length K: |ĉ − c| ≤ γ_K·(|A|·|B| + |β|·|C|) with γ_K ≈ K·u, u = 2⁻²⁴. A correct kernel
// stays far inside it whatever its summation order; a wrong one (a kernel the CPU
// misruns, a bad edge case) lands orders of magnitude outside. Double routines are
// judged by relative residuals against 1e-10.
import CBLAS
import Foundation
import PhalanxCore

/// One routine and shape class of the self-check.
public struct BLASCheck: Codable, Sendable {
    public var name: String
    public var passed: Bool
    /// The worst error as a fraction of what is allowed (≤ 1 passes).
    public var worst: Double
}

/// The self-check of the kernel set this process runs.
public struct BLASSelfCheckReport: Codable, Sendable {
    /// OpenBLAS's name of its kernels (`SkylakeX`, `Haswell`, …).
    public var core: String
    public var checks: [BLASCheck]
    /// Single-thread sgemm 512³ GFLOPS, the best of several runs.
    public var sgemmGFLOPS: Double
    public var passed: Bool { checks.allSatisfy(\.passed) }
    public var failures: [String] { checks.filter { !$0.passed }.map(\.name) }
}

public enum BLASSelfCheck {
    /// An sgemm with CBLAS's row-major arguments: transA, transB, M, N, K, β, A, lda, B, ldb, C, ldc (α = 1).
    public typealias SGEMM = (Bool, Bool, Int, Int, Int, Float, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int,
                              UnsafeMutablePointer<Float>, Int) -> Void

    /// OpenBLAS's cblas_sgemm.
    nonisolated(unsafe) public static let openBLAS: SGEMM = { ta, tb, m, n, k, beta, a, lda, b, ldb, c, ldc in
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The sgemm shape classes (M, N, K): tiny, vector-like, OpenBLAS's small-matrix range
    /// (M·N·K ≤ 1e6: the LSTM's steps, LeNet's convolutions) and packed products.
    public static let sgemmShapes = [(3, 5, 7), (1, 513, 129), (129, 1, 65), (32, 512, 128), (64, 100, 25),
                                     (16, 576, 150), (200, 300, 400), (500, 64, 800)]

    /// Runs every check on the loaded kernels (OpenBLAS on one thread, as Phalanx runs it).
    public static func run(sgemmShapes shapes: [(Int, Int, Int)] = sgemmShapes) -> BLASSelfCheckReport {
        openblas_set_num_threads(1)
        var rng = RNG(seed: 2024)
        var checks: [BLASCheck] = []
        // Every transpose, β 0 and 1, padded leading dimensions.
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                for beta: Float in [0, 1] {
                    checks.append(checkSGEMM(m, n, k, ta, tb, beta, pad: (m + n + k) % 2 == 1 ? 3 : 0, &rng))
                }
            }
        }
        checks.append(level1(&rng))
        checks.append(contentsOf: double(&rng))
        return BLASSelfCheckReport(core: String(cString: openblas_get_corename()), checks: checks, sgemmGFLOPS: speed(&rng))
    }

    /// One sgemm case: op(A) M × K, op(B) K × N, C M × N with `pad` extra floats per row of
    /// every matrix (which must stay untouched in C), judged against the bound.
    public static func checkSGEMM(_ m: Int, _ n: Int, _ k: Int, _ ta: Bool, _ tb: Bool, _ beta: Float, pad: Int,
                                  _ rng: inout RNG, gemm: SGEMM = openBLAS) -> BLASCheck {
        let lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad
        let a = (0..<((ta ? k : m) * lda)).map { _ in rng.uniform(-1, 1) }
        let b = (0..<((tb ? n : k) * ldb)).map { _ in rng.uniform(-1, 1) }
        let c0 = (0..<(m * ldc)).map { _ in rng.uniform(-1, 1) }
        var c = c0
        c.withUnsafeMutableBufferPointer { gemm(ta, tb, m, n, k, beta, a, lda, b, ldb, $0.baseAddress!, ldc) }
        let u = 1.0 / Double(1 << 24)
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var exact = Double(beta) * Double(c0[i * ldc + j]), bound = abs(Double(beta) * Double(c0[i * ldc + j]))
                for p in 0..<k {
                    let x = Double(ta ? a[p * lda + i] : a[i * lda + p]), y = Double(tb ? b[j * ldb + p] : b[p * ldb + j])
                    exact += x * y
                    bound += abs(x * y)
                }
                let allowed = Double(k + 2) * u * bound + 1e-30
                let got = Double(c[i * ldc + j])
                worst = max(worst, got.isFinite ? abs(got - exact) / allowed : .infinity)
            }
            // Padding columns of C stay untouched.
            for j in n..<ldc where c[i * ldc + j] != c0[i * ldc + j] { worst = .infinity }
        }
        let name = "sgemm \(ta ? "T" : "N")\(tb ? "T" : "N") \(m)×\(n)×\(k) β=\(Int(beta))\(pad > 0 ? " ld+\(pad)" : "")"
        return BLASCheck(name: name, passed: worst <= 1, worst: worst)
    }

    /// saxpy, sdot, sscal and somatcopy (a transposing copy).
    private static func level1(_ rng: inout RNG) -> BLASCheck {
        let n = 1000, u = 1.0 / Double(1 << 24)
        let x = (0..<n).map { _ in rng.uniform(-1, 1) }, y0 = (0..<n).map { _ in rng.uniform(-1, 1) }
        var worst = 0.0
        var y = y0
        cblas_saxpy(Int32(n), 0.75, x, 1, &y, 1)
        for i in 0..<n {
            let exact = 0.75 * Double(x[i]) + Double(y0[i])
            worst = max(worst, abs(Double(y[i]) - exact) / (2 * u * (abs(0.75 * Double(x[i])) + abs(Double(y0[i]))) + 1e-38))
        }
        let dot = Double(cblas_sdot(Int32(n), x, 1, y0, 1))
        var exact = 0.0, bound = 0.0
        for i in 0..<n { exact += Double(x[i]) * Double(y0[i]); bound += abs(Double(x[i]) * Double(y0[i])) }
        worst = max(worst, abs(dot - exact) / (Double(n + 2) * u * bound))
        var s = x
        cblas_sscal(Int32(n), -1.5, &s, 1)
        for i in 0..<n where s[i] != -1.5 * x[i] { worst = .infinity }
        let rows = 37, cols = 53
        let m = (0..<(rows * cols)).map { _ in rng.uniform(-1, 1) }
        var t = [Float](repeating: 0, count: rows * cols)
        cblas_somatcopy(CblasRowMajor, CblasTrans, Int32(rows), Int32(cols), 1, m, Int32(cols), &t, Int32(rows))
        for i in 0..<rows { for j in 0..<cols where t[j * rows + i] != m[i * cols + j] { worst = .infinity } }
        return BLASCheck(name: "saxpy, sdot, sscal, somatcopy", passed: worst <= 1, worst: worst)
    }

    /// dgemm, dsyrk, dtrsm and LAPACK's dsyevr, dpotrf, dgesv against known answers.
    private static func double(_ rng: inout RNG) -> [BLASCheck] {
        func check(_ name: String, _ error: Double) -> BLASCheck {
            let worst = error.isFinite ? error / 1e-10 : .infinity
            return BLASCheck(name: name, passed: worst <= 1, worst: worst)
        }
        func random(_ count: Int) -> [Double] { (0..<count).map { _ in Double(rng.uniform(-1, 1)) } }
        var out: [BLASCheck] = []
        let (m, n, k) = (50, 60, 70)
        for (ta, tb) in [(false, false), (false, true), (true, false)] {
            let a = random(m * k), b = random(k * n)
            var c = [Double](repeating: 0, count: m * n)
            LAPACK.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a, b, &c)
            var err = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var e = 0.0
                    for p in 0..<k { e += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]) }
                    err = max(err, abs(c[i * n + j] - e) / Double(k))
                }
            }
            out.append(check("dgemm \(ta ? "T" : "N")\(tb ? "T" : "N") \(m)×\(n)×\(k)", err))
        }
        // dsyrk: the lower triangle of AᵀA.
        let rows = 40, d = 30
        let x = random(rows * d)
        var g = [Double](repeating: 0, count: d * d)
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(d), Int32(rows), 1, x, Int32(d), 0, &g, Int32(d))
        var err = 0.0
        for i in 0..<d { for j in 0...i {
            var e = 0.0
            for r in 0..<rows { e += x[r * d + i] * x[r * d + j] }
            err = max(err, abs(g[i * d + j] - e) / Double(rows))
        } }
        out.append(check("dsyrk lower Aᵀ·A 40×30", err))
        // A symmetric positive-definite matrix with known eigenvalues: Q·diag(λ)·Qᵀ, Q a
        // product of Householder reflections.
        let size = 24
        let lambda = (0..<size).map { 1 + Double($0) * 0.5 }
        var q = [Double](repeating: 0, count: size * size)
        for i in 0..<size { q[i * size + i] = 1 }
        for _ in 0..<3 {
            let v = random(size), vv = v.reduce(0) { $0 + $1 * $1 }
            var h = [Double](repeating: 0, count: size * size)
            for i in 0..<size { for j in 0..<size { h[i * size + j] = (i == j ? 1 : 0) - 2 * v[i] * v[j] / vv } }
            var next = [Double](repeating: 0, count: size * size)
            LAPACK.gemm(m: size, n: size, k: size, q, h, &next)
            q = next
        }
        var qd = q
        for i in 0..<size { for j in 0..<size { qd[i * size + j] *= lambda[j] } }
        var spd = [Double](repeating: 0, count: size * size)
        LAPACK.gemm(transB: true, m: size, n: size, k: size, qd, q, &spd)
        if let eig = try? LAPACK.symmetricEigen(spd, n: size) {
            out.append(check("dsyevr eigenvalues of Q·diag(λ)·Qᵀ 24×24",
                             zip(eig.values, lambda).map { abs($0 - $1) / 12 }.max() ?? .infinity))
        } else {
            out.append(BLASCheck(name: "dsyevr eigenvalues of Q·diag(λ)·Qᵀ 24×24", passed: false, worst: .infinity))
        }
        if let l = LAPACK.cholesky(spd, n: size) {
            var llt = [Double](repeating: 0, count: size * size)
            LAPACK.gemm(transB: true, m: size, n: size, k: size, l, l, &llt)
            out.append(check("dpotrf L·Lᵀ = A 24×24", zip(llt, spd).map { abs($0 - $1) / 12 }.max() ?? .infinity))
            // dtrsm: solve L·Y = B, then Lᵀ·X = Y; A·X = B.
            let rhs = random(size * 3)
            var sol = rhs
            cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, Int32(size), 3, 1, l, Int32(size), &sol, 3)
            cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, Int32(size), 3, 1, l, Int32(size), &sol, 3)
            var ax = [Double](repeating: 0, count: size * 3)
            LAPACK.gemm(m: size, n: 3, k: size, spd, sol, &ax)
            out.append(check("dtrsm L and Lᵀ solves 24×3", zip(ax, rhs).map { abs($0 - $1) / 12 }.max() ?? .infinity))
        } else {
            out.append(BLASCheck(name: "dpotrf L·Lᵀ = A 24×24", passed: false, worst: .infinity))
        }
        let a = random(size * size), b = random(size * 2)
        if let sol = LAPACK.solve(a, n: size, b, nrhs: 2) {
            var ax = [Double](repeating: 0, count: size * 2)
            LAPACK.gemm(m: size, n: 2, k: size, a, sol, &ax)
            let scale = sol.map(abs).max() ?? 1
            out.append(check("dgesv A·X = B 24×24", zip(ax, b).map { abs($0 - $1) / (Double(size) * max(1, scale)) }.max() ?? .infinity))
        } else {
            out.append(BLASCheck(name: "dgesv A·X = B 24×24", passed: false, worst: .infinity))
        }
        return out
    }

    /// Single-thread sgemm 512³ GFLOPS, the best of five runs.
    private static func speed(_ rng: inout RNG) -> Double {
        let n = 512
        let a = (0..<(n * n)).map { _ in rng.uniform(-1, 1) }, b = (0..<(n * n)).map { _ in rng.uniform(-1, 1) }
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<6 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }
}
