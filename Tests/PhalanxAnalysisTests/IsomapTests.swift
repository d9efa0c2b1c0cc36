import Foundation
import Testing
@testable import PhalanxAnalysis
import PhalanxCore

/// Pearson correlation of two sequences.
func manifoldCorrelation(_ a: [Double], _ b: [Double]) -> Double {
    let n = Double(a.count)
    let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for (x, y) in zip(a, b) { sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb) }
    return sab / (saa * sbb).squareRoot()
}

@Suite struct IsomapTests {
    /// A strip rolled along an Archimedean spiral r = a·t (a Swiss roll without noise), sampled
    /// evenly in arc length s (steps of 0.5) and height h (steps of 0.45): ISOMAP unrolls it,
    /// its two components following s and h. 40 × 12 = 480 points, so the block Lanczos
    /// solver (not dsyevr) runs. 8 neighbours take the two along h, the two along s and the
    /// four diagonals, so no tie decides the graph.
    @Test func unrollsSwissRoll() throws {
        let a = 0.5
        func arc(_ t: Double) -> Double { a / 2 * (t * (1 + t * t).squareRoot() + asinh(t)) }
        let t0 = Double.pi, s0 = arc(t0)
        var values: [Float] = [], trueS: [Double] = [], trueH: [Double] = []
        for i in 0..<40 {
            let s = s0 + 0.5 * Double(i)
            var lo = t0, hi = 4 * Double.pi  // invert s(t) by bisection
            for _ in 0..<60 { let mid = (lo + hi) / 2; if arc(mid) < s { lo = mid } else { hi = mid } }
            let t = (lo + hi) / 2
            for j in 0..<12 {
                let h = 0.45 * Double(j)
                values += [Float(a * t * cos(t)), Float(h), Float(a * t * sin(t))]
                trueS.append(s); trueH.append(h)
            }
        }
        let x = try Matrix(rows: 480, cols: 3, values: values)
        var options = Isomap.Options()
        options.neighbors = 8
        let result = try Isomap.fit(x, options)
        #expect(result.graphComponents == 1)
        #expect(result.eigenCycles > 0)  // the iterative solver ran
        let e0 = (0..<480).map { Double(result.embedding[$0, 0]) }, e1 = (0..<480).map { Double(result.embedding[$0, 1]) }
        // scikit-learn's Isomap on the same points: 0.99994 and 0.98787 (graph distances along
        // 8 lattice directions stretch the diagonal, bending the strip's width a little).
        #expect(abs(manifoldCorrelation(e0, trueS)) >= 0.999)
        #expect(abs(manifoldCorrelation(e1, trueH)) >= 0.985)
        #expect(result.eigenvalues[0] > result.eigenvalues[1] && result.eigenvalues[1] > 0)
        #expect(result.reconstructionError.isFinite && result.reconstructionError > 0)
    }

    /// Two collinear runs x = 0…9 and x = 20…29 (k = 2): two components, joined at 9–20, so
    /// the geodesic distance is |x − x'| and the 1-D embedding is x itself up to sign and shift.
    @Test func joinsComponents() throws {
        let xs = (0..<10).map(Double.init) + (20..<30).map(Double.init)
        let x = try Matrix(rows: 20, cols: 2, values: xs.flatMap { [Float($0), 0] })
        var options = Isomap.Options()
        options.neighbors = 2; options.components = 1
        let result = try Isomap.fit(x, options)
        #expect(result.graphComponents == 2)
        let e = (0..<20).map { Double(result.embedding[$0, 0]) }
        #expect(abs(manifoldCorrelation(e, xs)) > 0.999999)
        // Classical MDS of exact distances of centred points: λ = Σ (x − x̄)².
        let mean = xs.reduce(0, +) / 20
        #expect(abs(result.eigenvalues[0] - xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }) < 1e-6)
    }

    /// The block Lanczos solver against dsyevr on a random symmetric matrix and on one of
    /// rank 3 (where the Krylov space closes after one block and random directions refill it).
    @Test func topEigenMatchesLAPACK() throws {
        var rng = RNG(seed: 11)
        let n = 300
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0...i { let v = Double(rng.normal()); a[i * n + j] = v; a[j * n + i] = v } }
        var u = [Double](repeating: 0, count: 3 * n)
        for i in 0..<(3 * n) { u[i] = Double(rng.normal()) }
        var low = [Double](repeating: 0, count: n * n)
        for (r, w) in [5.0, 3.0, -2.0].enumerated() {
            for i in 0..<n { for j in 0..<n { low[i * n + j] += w * u[r * n + i] * u[r * n + j] } }
        }
        for (matrix, k) in [(a, 4), (low, 2)] {
            let top = try TopEigen.largest(matrix, n: n, count: k, tolerance: 1e-11, denseBelow: 0)
            #expect(top.cycles > 0)
            let ref = try LAPACK.symmetricEigen(matrix, n: n)
            for j in 0..<k {
                let want = ref.values[n - 1 - j]
                #expect(abs(top.values[j] - want) <= 1e-9 * abs(ref.values[n - 1]))
                var dot = 0.0
                for i in 0..<n { dot += top.vectors[j * n + i] * ref.vectors[(n - 1 - j) * n + i] }
                #expect(abs(abs(dot) - 1) < 1e-8)
            }
        }
    }

    /// Shift-invert (Cholesky of A + δI, block Lanczos on the inverse) against dsyevr for the
    /// smallest eigenpairs of a singular PSD matrix with the constant null vector (deflated), as
    /// LLE's M: A = P·G·Gᵀ·P/r with P = I − 11ᵀ/n.
    @Test func smallestByShiftInvertMatchesLAPACK() throws {
        var rng = RNG(seed: 12)
        let n = 300, r = 400
        var g = [Double](repeating: 0, count: n * r)
        for i in 0..<(n * r) { g[i] = Double(rng.normal()) }
        for c in 0..<r {  // centre the columns: P·G
            var mean = 0.0
            for i in 0..<n { mean += g[i * r + c] }
            for i in 0..<n { g[i * r + c] -= mean / Double(n) }
        }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0...i {
            var s = 0.0
            for c in 0..<r { s += g[i * r + c] * g[j * r + c] }
            a[i * n + j] = s / Double(r); a[j * n + i] = s / Double(r)
        } }
        let ref = try LAPACK.symmetricEigen(a, n: n, indices: 0...2)
        var work = a
        let got = try #require(try work.withUnsafeMutableBufferPointer { p throws(AnalysisError) in
            try TopEigen.smallest(overwriting: p.baseAddress!, n: n, count: 2, deflating: [Double](repeating: 1, count: n))
        })
        #expect(got.cycles > 0)
        #expect(abs(ref.values[0]) < 1e-9)  // the constant null vector, deflated
        for j in 0..<2 {
            #expect(abs(got.values[j] - ref.values[j + 1]) <= 1e-9 * abs(ref.values[j + 1]))
            var dot = 0.0
            for i in 0..<n { dot += got.vectors[j * n + i] * ref.vectors[(j + 1) * n + i] }
            #expect(abs(abs(dot) - 1) < 1e-8)
        }
    }

    @Test func refusesBadInput() throws {
        let x = try Matrix(rows: 4, cols: 2, values: [0, 0, 1, 0, 0, 1, 1, 1])
        var options = Isomap.Options()
        #expect(throws: AnalysisError.option("--neighbors", "5 neighbours of 4 samples; need 1...3")) {
            try Isomap.fit(x, options)
        }
        options.neighbors = 2; options.maxPoints = 3
        do {
            _ = try Isomap.fit(x, options)
            Issue.record("4 samples over --max-points 3 were accepted")
        } catch {
            #expect(error.option == "--max-points" && error.message.contains("MiB"))
        }
        options.maxPoints = 10
        var nan = x
        nan[2, 1] = .nan
        do {
            _ = try Isomap.fit(nan, options)
            Issue.record("NaN accepted")
        } catch {
            #expect(error.option == nil && error.message.contains("sample 2, feature 1"))
        }
    }
}
