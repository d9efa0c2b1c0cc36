// Eigenvalues and eigenvectors of a small symmetric matrix by the cyclic Jacobi method.
//
// Golub & Van Loan, "Matrix Computations" (4th ed.), §8.5: plane rotations zero the
// off-diagonal entries one pair at a time, sweep after sweep, until they are below
// 1e-15 of the matrix's norm. Quadratic convergence; O(n³) a sweep, meant for the
// feature covariances of a few hundred dimensions (Fréchet distances), in Double.
import Foundation

/// A symmetric eigendecomposition A = V·diag(λ)·Vᵀ.
public enum SymmetricEigen {
    /// The eigenvalues (ascending) and the eigenvectors as the columns of a row-major
    /// n×n matrix, of the symmetric row-major n×n matrix `a`.
    public static func decompose(_ a: [Double], n: Int) -> (values: [Double], vectors: [Double]) {
        precondition(a.count == n * n, "SymmetricEigen: \(a.count) values are not a \(n)×\(n) matrix")
        var m = a
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        let norm = m.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<max(p + 1, n) { off += m[p * n + q] * m[p * n + q] } }
            if off.squareRoot() <= 1e-15 * max(norm, .leastNormalMagnitude) { break }
            for p in 0..<n {
                for q in (p + 1)..<max(p + 1, n) where m[p * n + q] != 0 {
                    let apq = m[p * n + q]
                    let theta = (m[q * n + q] - m[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let mkp = m[k * n + p], mkq = m[k * n + q]
                        m[k * n + p] = c * mkp - s * mkq
                        m[k * n + q] = s * mkp + c * mkq
                    }
                    for k in 0..<n {
                        let mpk = m[p * n + k], mqk = m[q * n + k]
                        m[p * n + k] = c * mpk - s * mqk
                        m[q * n + k] = s * mpk + c * mqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { m[$0 * n + $0] < m[$1 * n + $1] }
        var vectors = [Double](repeating: 0, count: n * n)
        for (j, k) in order.enumerated() { for i in 0..<n { vectors[i * n + j] = v[i * n + k] } }
        return (order.map { m[$0 * n + $0] }, vectors)
    }

    /// The Fréchet distance between Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂):
    /// ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr (Σ₁^½ Σ₂ Σ₁^½)^½ (Dowson & Landau 1982; the
    /// "FID" of Heusel et al. 2017 on a classifier's features).
    public static func frechetDistance(mean1: [Double], cov1: [Double], mean2: [Double], cov2: [Double], n: Int) -> Double {
        var d = 0.0
        for i in 0..<n { d += (mean1[i] - mean2[i]) * (mean1[i] - mean2[i]) }
        var trace = 0.0
        for i in 0..<n { trace += cov1[i * n + i] + cov2[i * n + i] }
        let (l1, v1) = decompose(cov1, n: n)
        // Σ₁^½ = V diag(√λ) Vᵀ.
        var root = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            var s = 0.0
            for k in 0..<n { s += v1[i * n + k] * max(l1[k], 0).squareRoot() * v1[j * n + k] }
            root[i * n + j] = s
        } }
        func multiply(_ a: [Double], _ b: [Double]) -> [Double] {
            var c = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for k in 0..<n { let aik = a[i * n + k]; if aik == 0 { continue }
                for j in 0..<n { c[i * n + j] += aik * b[k * n + j] } } }
            return c
        }
        var m = multiply(multiply(root, cov2), root)
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { let s = (m[i * n + j] + m[j * n + i]) / 2; m[i * n + j] = s; m[j * n + i] = s } }
        let cross = decompose(m, n: n).values.reduce(0) { $0 + max($1, 0).squareRoot() }
        return d + trace - 2 * cross
    }
}
