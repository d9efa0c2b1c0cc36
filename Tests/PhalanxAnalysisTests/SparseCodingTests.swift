import Testing
@testable import PhalanxAnalysis
import PhalanxCore

@Suite struct SparseCodingTests {
    static func options(_ coder: SparseCoding.Coder, alpha: Double = 1) -> SparseCoding.Options {
        var o = SparseCoding.Options()
        o.coder = coder
        o.alpha = alpha
        return o
    }

    /// `rows × cols` standard normal values, each row scaled to unit norm when asked.
    static func random(_ rows: Int, _ cols: Int, seed: UInt64, unitRows: Bool = false) throws -> Matrix {
        var rng = RNG(seed: seed)
        var m = try Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in rng.normal() })
        if unitRows {
            for i in 0..<rows {
                let norm = (0..<cols).reduce(Float(0)) { $0 + m[i, $1] * m[i, $1] }.squareRoot()
                for j in 0..<cols { m[i, j] /= norm }
            }
        }
        return m
    }

    /// One atom D = [2], one feature: argmin ½(x − 2a)² + |a| = (2x − sign(x))/4 where
    /// |2x| > 1, else 0; an orthonormal dictionary gives soft(Dx, alpha) exactly.
    @Test(arguments: [SparseCoding.Coder.fista, .ista])
    func softThreshold(coder: SparseCoding.Coder) throws {
        let x = try Matrix(rows: 4, cols: 1, values: [3, -3, 0.4, -0.5])
        let codes = try SparseCoding.encode(x, dictionary: try Matrix(rows: 1, cols: 1, values: [2]), Self.options(coder))
        for (got, want) in zip(codes.values, [Float(1.25), -1.25, 0, 0]) { #expect(abs(got - want) < 1e-5) }
        // Rotation by 30°: rows orthonormal.
        let c: Float = 0.8660254, s: Float = 0.5
        let rotation = try Matrix(rows: 2, cols: 2, values: [c, s, -s, c])
        let y = try Matrix(rows: 1, cols: 2, values: [2, 0.5])
        let a = try SparseCoding.encode(y, dictionary: rotation, Self.options(coder, alpha: 0.4))
        let dx: [Float] = [c * 2 + s * 0.5, -s * 2 + c * 0.5]
        for j in 0..<2 {
            let want = dx[j] > 0.4 ? dx[j] - 0.4 : (dx[j] < -0.4 ? dx[j] + 0.4 : 0)
            #expect(abs(a[0, j] - want) < 1e-5)
        }
    }

    /// The lasso optimum over an over-complete random dictionary satisfies the KKT
    /// conditions: Dⱼ·r = alpha·sign(aⱼ) where aⱼ ≠ 0 and |Dⱼ·r| ≤ alpha where aⱼ = 0.
    @Test(arguments: [SparseCoding.Coder.fista, .ista])
    func reachesLassoOptimum(coder: SparseCoding.Coder) throws {
        let atoms = 12, d = 8, n = 20, alpha = 0.3
        let dictionary = try Self.random(atoms, d, seed: 1, unitRows: true)
        let x = try Self.random(n, d, seed: 2)
        var o = Self.options(coder, alpha: alpha)
        o.coderMaxIter = 50_000
        o.coderTol = 1e-7
        let codes = try SparseCoding.encode(x, dictionary: dictionary, o)
        var zeros = 0, active = 0
        for i in 0..<n {
            var r = (0..<d).map { Double(x[i, $0]) }
            for j in 0..<atoms { for f in 0..<d { r[f] -= Double(codes[i, j]) * Double(dictionary[j, f]) } }
            for j in 0..<atoms {
                let g = (0..<d).reduce(0.0) { $0 + Double(dictionary[j, $1]) * r[$1] }
                let a = codes[i, j]
                if a == 0 {
                    zeros += 1
                    #expect(abs(g) <= alpha + 1e-4)
                } else {
                    active += 1
                    #expect(abs(g - alpha * (a > 0 ? 1 : -1)) <= 1e-4)
                }
            }
        }
        #expect(zeros > 0 && active > 0)  // both conditions were exercised
    }

    /// An exactly 3-sparse code over 30 random unit atoms in 20 dimensions is recovered.
    @Test func ompRecoversSparseCode() throws {
        let atoms = 30, d = 20, n = 10
        let dictionary = try Self.random(atoms, d, seed: 3, unitRows: true)
        var rng = RNG(seed: 4)
        var truth = [Float](repeating: 0, count: n * atoms)
        for i in 0..<n {
            for j in rng.permutation(atoms).prefix(3) { truth[i * atoms + j] = (1 + rng.nextFloat()) * (rng.nextFloat() < 0.5 ? -1 : 1) }
        }
        var x = Matrix(rows: n, cols: d)
        for i in 0..<n { for j in 0..<atoms { for f in 0..<d { x[i, f] += truth[i * atoms + j] * dictionary[j, f] } } }
        var o = Self.options(.omp)
        o.nonzeros = 3
        let codes = try SparseCoding.encode(x, dictionary: dictionary, o)
        for (got, want) in zip(codes.values, truth) {
            #expect((got == 0) == (want == 0))
            #expect(abs(got - want) < 1e-4)
        }
    }

    /// Samples made of 2 of 15 planted unit atoms in 10 dimensions (plus 1 % noise):
    /// the objective falls at every alternation and the atoms are found again.
    @Test func learnsPlantedDictionary() throws {
        let atoms = 15, d = 10, n = 300
        let planted = try Self.random(atoms, d, seed: 5, unitRows: true)
        var rng = RNG(seed: 6)
        var x = Matrix(rows: n, cols: d)
        for i in 0..<n {
            for j in rng.permutation(atoms).prefix(2) {
                let a = (1 + rng.nextFloat()) * (rng.nextFloat() < 0.5 ? -1 : 1)
                for f in 0..<d { x[i, f] += a * planted[j, f] }
            }
            for f in 0..<d { x[i, f] += 0.01 * rng.normal() }
        }
        var o = Self.options(.fista, alpha: 0.3)
        o.atoms = atoms
        o.maxIter = 40
        o.coderTol = 1e-4
        let result = try SparseCoding.fit(x, o)
        #expect(result.objective.count == result.iterations)
        for k in 1..<result.objective.count {
            #expect(result.objective[k] <= result.objective[k - 1] * (1 + 1e-5))
        }
        var matched = 0
        for j in 0..<atoms {
            var best: Float = 0
            for k in 0..<atoms {
                let dot = (0..<d).reduce(Float(0)) { $0 + planted[j, $1] * result.dictionary[k, $1] }
                let norm = (0..<d).reduce(Float(0)) { $0 + result.dictionary[k, $1] * result.dictionary[k, $1] }.squareRoot()
                best = max(best, abs(dot) / max(norm, 1e-12))
            }
            if best > 0.95 { matched += 1 }
        }
        #expect(matched >= 12)
        for k in 0..<atoms {
            let norm = (0..<d).reduce(Float(0)) { $0 + result.dictionary[k, $1] * result.dictionary[k, $1] }
            #expect(norm <= 1 + 1e-5)
        }
        #expect(result.meanNonzeros > 1 && result.meanNonzeros < 6)
    }

    @Test func refusesBadOptions() throws {
        let x = try Self.random(10, 4, seed: 7)
        var o = SparseCoding.Options()
        o.atoms = 0
        #expect(throws: AnalysisError.option("--atoms", "must be at least 1, got 0")) { try SparseCoding.fit(x, o) }
        o = SparseCoding.Options()
        o.alpha = -1
        #expect(throws: AnalysisError.option("--alpha", "must be ≥ 0, got -1.0")) { try SparseCoding.fit(x, o) }
        o = Self.options(.omp)
        o.nonzeros = 5
        #expect(throws: AnalysisError.self) { try SparseCoding.fit(x, o) }
        var bad = x
        bad[3, 2] = .nan
        #expect(throws: AnalysisError.self) { try SparseCoding.fit(bad, SparseCoding.Options()) }
        #expect(throws: AnalysisError.self) {
            try SparseCoding.encode(x, dictionary: Matrix(rows: 3, cols: 5), SparseCoding.Options())
        }
    }
}
