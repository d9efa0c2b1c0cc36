import Testing
@testable import PhalanxAnalysis
import PhalanxCore

@Suite struct LLETests {
    /// The centre of a square is the mean of its 4 corners: weights ¼ each (any reg keeps
    /// the symmetry), here on a square lying in a tilted plane of 3-D space.
    @Test func barycenterWeightsOfSquareCentre() throws {
        let e1: [Float] = [0.6, 0.8, 0], e2: [Float] = [0, 0, 1]
        let pts: [(Float, Float)] = [(0, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]
        let x = try Matrix(rows: 5, cols: 3, values: pts.flatMap { p in (0..<3).map { p.0 * e1[$0] + p.1 * e2[$0] + 2 } })
        let knn = try Neighbors.nearest(x, k: 4)
        let w = try LLE.barycenterWeights(x, knn, regularization: 1e-3)
        for a in 0..<4 { #expect(abs(w[a] - 0.25) < 1e-6) }
        for i in 1..<5 { #expect(abs(w[(i * 4)..<(i * 4 + 4)].reduce(0, +) - 1) < 1e-12) }
    }

    /// Uniform points on a plane tilted in 3-D: the embedding is close to an affine image of
    /// the plane's coordinates. scikit-learn 1.9 on these very points (k = 8): reconstruction
    /// error 6.53661e-8, least-squares R² of u and v on the embedding 0.98839 and 0.99028.
    @Test func flattensPlane() throws {
        var rng = RNG(seed: 5)
        let n = 300
        var uv = [(Double, Double)]()
        var values = [Float]()
        for _ in 0..<n {
            let u = Double(rng.nextFloat()), v = Double(rng.nextFloat())
            uv.append((u, v))
            values += [Float(0.48 * u - 0.6 * v + 1), Float(0.64 * u + 0.8 * v + 2), Float(0.6 * u + 3)]
        }
        let x = try Matrix(rows: n, cols: 3, values: values)
        var options = LLE.Options()
        options.neighbors = 8
        let result = try LLE.fit(x, options)
        #expect(abs(result.reconstructionError / 6.53661333575389e-08 - 1) < 1e-5)
        // R² of u and of v regressed on (e0, e1, 1), by the normal equations.
        var ata = [Double](repeating: 0, count: 9), atb = [Double](repeating: 0, count: 6)
        for i in 0..<n {
            let row = [Double(result.embedding[i, 0]), Double(result.embedding[i, 1]), 1]
            for r in 0..<3 {
                for c in 0..<3 { ata[r * 3 + c] += row[r] * row[c] }
                atb[r * 2] += row[r] * uv[i].0; atb[r * 2 + 1] += row[r] * uv[i].1
            }
        }
        let coef = try #require(LAPACK.solve(ata, n: 3, atb, nrhs: 2))
        for t in 0..<2 {
            let target = uv.map { t == 0 ? $0.0 : $0.1 }
            let mean = target.reduce(0, +) / Double(n)
            var ssRes = 0.0, ssTot = 0.0
            for i in 0..<n {
                let p = coef[t] * Double(result.embedding[i, 0]) + coef[2 + t] * Double(result.embedding[i, 1]) + coef[4 + t]
                ssRes += (target[i] - p) * (target[i] - p); ssTot += (target[i] - mean) * (target[i] - mean)
            }
            #expect(abs(1 - ssRes / ssTot - [0.98839028, 0.99027522][t]) < 1e-5)
        }
        // Unit eigenvectors orthogonal to the constant vector.
        for j in 0..<2 {
            let col = (0..<n).map { Double(result.embedding[$0, j]) }
            #expect(abs(col.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
            #expect(abs(col.reduce(0, +)) < 1e-4)
        }
    }

    @Test func refusesBadInput() throws {
        let x = try Matrix(rows: 4, cols: 3, values: (0..<12).map(Float.init))
        #expect(throws: AnalysisError.option("--neighbors", "5 neighbours of 4 samples; need 1...3")) {
            try LLE.fit(x, LLE.Options())
        }
        var options = LLE.Options()
        options.neighbors = 2
        options.components = 4
        do { _ = try LLE.fit(x, options); Issue.record("4 components of 3 features accepted") } catch {
            #expect(error.option == "--components")
        }
        options.components = 2; options.maxPoints = 3
        do { _ = try LLE.fit(x, options); Issue.record("over --max-points accepted") } catch {
            #expect(error.option == "--max-points" && error.message.contains("MiB"))
        }
        options.maxPoints = 100
        var nan = x
        nan[3, 0] = .infinity
        do { _ = try LLE.fit(nan, options); Issue.record("inf accepted") } catch {
            #expect(error.option == nil && error.message.contains("sample 3, feature 0"))
        }
    }
}
