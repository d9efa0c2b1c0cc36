import Foundation
@testable import PhalanxCore
import Testing

@Suite struct SymmetricEigenTests {
    @Test func decomposesAKnownMatrix() {
        // [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, −1)/√2 and (1, 1)/√2.
        let (values, vectors) = SymmetricEigen.decompose([2, 1, 1, 2], n: 2)
        #expect(abs(values[0] - 1) < 1e-12 && abs(values[1] - 3) < 1e-12)
        #expect(abs(abs(vectors[0]) - 0.5.squareRoot()) < 1e-12 && abs(vectors[0] + vectors[2]) < 1e-12)
        // A·v = λ·v for a random symmetric 6×6 matrix.
        var rng = RNG(seed: 3)
        var a = [Double](repeating: 0, count: 36)
        for i in 0..<6 { for j in i..<6 { let x = Double(rng.uniform(-1, 1)); a[i * 6 + j] = x; a[j * 6 + i] = x } }
        let (l, v) = SymmetricEigen.decompose(a, n: 6)
        for k in 0..<6 {
            for i in 0..<6 {
                let av = (0..<6).reduce(0.0) { $0 + a[i * 6 + $1] * v[$1 * 6 + k] }
                #expect(abs(av - l[k] * v[i * 6 + k]) < 1e-10)
            }
        }
        #expect(l == l.sorted())
    }

    @Test func frechetDistanceOfKnownGaussians() {
        let i2: [Double] = [1, 0, 0, 1]
        #expect(abs(SymmetricEigen.frechetDistance(mean1: [0, 0], cov1: i2, mean2: [0, 0], cov2: i2, n: 2)) < 1e-12)
        #expect(abs(SymmetricEigen.frechetDistance(mean1: [1, 2], cov1: i2, mean2: [0, 0], cov2: i2, n: 2) - 5) < 1e-12)
        // Diagonal covariances: Σ (σ₁ᵢ − σ₂ᵢ)².
        let d = SymmetricEigen.frechetDistance(mean1: [0, 0], cov1: [4, 0, 0, 9], mean2: [0, 0], cov2: [1, 0, 0, 1], n: 2)
        #expect(abs(d - (1 + 4)) < 1e-10)
    }
}
