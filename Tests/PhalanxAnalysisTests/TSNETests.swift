import Foundation
import Testing
@testable import PhalanxAnalysis
import PhalanxCore

@Suite struct TSNETests {
    static func gaussian(_ n: Int, _ d: Int, seed: UInt64) throws -> Matrix {
        var rng = RNG(seed: seed)
        return try Matrix(rows: n, cols: d, values: (0..<(n * d)).map { _ in rng.normal() })
    }

    /// Three tight blobs 20 apart in 10-D, 20 samples each; labels are row / 20.
    static func blobs() throws -> Matrix {
        var rng = RNG(seed: 11)
        var values: [Float] = []
        for b in 0..<3 { for _ in 0..<20 { for f in 0..<10 { values.append((f == b ? 20 : 0) + rng.normal()) } } }
        return try Matrix(rows: 60, cols: 10, values: values)
    }

    /// Each conditional row's entropy is log(perplexity) (scikit-learn's tolerance 1e-5) and sums to 1.
    @Test func perplexityCalibration() throws {
        let x = try Self.gaussian(60, 5, seed: 1)
        let graph = try Neighbors.nearest(x, k: 31)
        let p = TSNE.conditionalProbabilities(graph, perplexity: 10)
        for i in 0..<60 {
            let row = p[(i * 31)..<((i + 1) * 31)]
            let entropy = -row.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) }
            #expect(abs(entropy - log(10)) <= 1e-5)
            #expect(abs(row.reduce(0, +) - 1) < 1e-12)
        }
        // Far-apart distances (exp(−d) underflows at β = 1) still calibrate.
        let d = (0..<20).map { 1e4 + Double($0) * 50 }
        var row = [Double](repeating: 0, count: 20)
        _ = d.withUnsafeBufferPointer { TSNE.conditionalRow($0.baseAddress!, count: 20, entropy: log(5), &row) }
        #expect(abs(-row.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) } - log(5)) <= 1e-5)
        // The symmetrised P sums to 1 and is symmetric.
        let sparse = TSNE.sparseAffinities(graph, perplexity: 10).dense
        #expect(abs(sparse.reduce(0, +) - 1) < 1e-12)
        for i in 0..<60 { for j in 0..<60 { #expect(sparse[i * 60 + j] == sparse[j * 60 + i]) } }
        let dense = TSNE.denseAffinities(x, perplexity: 10)
        #expect(abs(dense.reduce(0, +) - 1) < 1e-9)
    }

    /// The exact gradient against central differences of the exact KL, in 2 and 3 components.
    @Test func exactGradientMatchesFiniteDifferences() throws {
        let n = 10
        let p = TSNE.denseAffinities(try Self.gaussian(n, 4, seed: 2), perplexity: 3)
        for dims in [2, 3] {
            var rng = RNG(seed: 5)
            var y = (0..<(n * dims)).map { _ in Double(rng.normal()) }
            func objective(_ y: [Double]) -> (Double, [Double]) {
                var g = [Double](repeating: 0, count: n * dims)
                let kl = y.withUnsafeBufferPointer { yb in g.withUnsafeMutableBufferPointer { gb in
                    TSNE.exactObjective(p: p, y: yb.baseAddress!, n: n, dims: dims, exaggeration: 1,
                                        gradient: gb.baseAddress!, computeError: true)
                } }
                return (kl, g)
            }
            let (kl, gradient) = objective(y)
            #expect(kl > 0)
            let h = 1e-6
            for e in 0..<(n * dims) {
                let keep = y[e]
                y[e] = keep + h; let up = objective(y).0
                y[e] = keep - h; let down = objective(y).0
                y[e] = keep
                let numeric = (up - down) / (2 * h)
                #expect(abs(numeric - gradient[e]) < 1e-6 * max(1, abs(numeric)), "dims \(dims) coordinate \(e)")
            }
        }
    }

    /// Barnes–Hut equals the exact gradient at θ = 0 (also after the points are relabelled,
    /// every 10 evaluations) and is close at θ = 0.2.
    @Test func barnesHutMatchesExact() throws {
        let n = 200
        let graph = try Neighbors.nearest(try Self.gaussian(n, 6, seed: 3), k: 31)
        let p = TSNE.sparseAffinities(graph, perplexity: 10)
        var rng = RNG(seed: 4)
        let y = (0..<(2 * n)).map { _ in 3 * Double(rng.normal()) }
        var exact = [Double](repeating: 0, count: 2 * n)
        let exactKL = y.withUnsafeBufferPointer { yb in exact.withUnsafeMutableBufferPointer { g in
            TSNE.exactObjective(p: p.dense, y: yb.baseAddress!, n: n, dims: 2, exaggeration: 12,
                                gradient: g.baseAddress!, computeError: true)
        } }
        let norm = exact.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for (angle, tolerance) in [(0.0, 1e-12), (0.2, 1e-2)] {
            let bh = BarnesHutObjective(p: p, components: 2, angle: angle)
            var g = [Double](repeating: 0, count: 2 * n)
            var kl = 0.0
            for _ in 0..<(angle == 0 ? 12 : 1) {
                kl = y.withUnsafeBufferPointer { yb in g.withUnsafeMutableBufferPointer { gb in
                    bh.evaluate(yb.baseAddress!, gb.baseAddress!, 12, true)
                } }
            }
            let error = zip(g, exact).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            #expect(error / norm < tolerance, "angle \(angle): relative error \(error / norm)")
            #expect(abs(kl - exactKL) < 10 * tolerance * abs(exactKL), "angle \(angle): KL \(kl) vs \(exactKL)")
        }
    }

    /// Well-separated blobs stay apart: every sample's 5 nearest in the embedding share its blob.
    @Test(arguments: [TSNE.Method.barnesHut, .exact])
    func blobsStaySeparated(method: TSNE.Method) throws {
        let x = try Self.blobs()
        var options = TSNE.Options()
        options.perplexity = 10
        options.method = method
        let result = try TSNE.fit(x, options)
        #expect(result.embedding.rows == 60 && result.embedding.cols == 2)
        #expect(result.iterations <= 1000 && result.iterations > 250)
        #expect(result.klDivergence > 0 && result.klDivergence < 2)
        #expect(result.learningRate == 50)
        let graph = try Neighbors.nearest(result.embedding, k: 5)
        for i in 0..<60 { for c in 0..<5 { #expect(graph.neighbor(i, c) / 20 == i / 20) } }
        #expect(try Trustworthiness.score(x, result.embedding, neighbors: 5) > 0.9)
        // Deterministic for the same options.
        if method == .barnesHut { #expect(try TSNE.fit(x, options).embedding == result.embedding) }
    }

    /// Random initialisation, one component: along the line the blobs do not interleave
    /// (a sample stranded among another blob is allowed: in 1-D samples cannot pass each other).
    @Test func randomInitialisationAndOneComponent() throws {
        let x = try Self.blobs()
        var options = TSNE.Options()
        options.perplexity = 10
        options.initialization = .random
        options.components = 1
        options.maxIter = 300
        let result = try TSNE.fit(x, options)
        #expect(result.embedding.cols == 1 && result.iterations == 300)
        let order = (0..<60).sorted { result.embedding[$0, 0] < result.embedding[$1, 0] }
        let changes = zip(order, order.dropFirst()).filter { $0.0 / 20 != $0.1 / 20 }.count
        #expect(changes <= 4)
        #expect(try Trustworthiness.score(x, result.embedding, neighbors: 5) > 0.9)
    }

    @Test func trustworthinessKnownValues() throws {
        let x = try Self.gaussian(40, 3, seed: 7)
        #expect(try Trustworthiness.score(x, x, neighbors: 5) == 1)
        // Hand-computed (and scikit-learn's): points 0 and 5 swapped on a line, k = 2 → 1 − 12·2/60.
        let line = try Matrix(rows: 6, cols: 1, values: [0, 1, 3, 7, 15, 31])
        let swapped = try Matrix(rows: 6, cols: 1, values: [31, 1, 3, 7, 15, 0])
        #expect(abs(try Trustworthiness.score(line, swapped, neighbors: 2) - 0.6) < 1e-12)
    }

    @Test func errors() throws {
        let x = try Self.gaussian(20, 3, seed: 8)
        var options = TSNE.Options()
        #expect(throws: AnalysisError.option("--perplexity", "30.0 must be less than the number of samples (20)")) {
            try TSNE.fit(x, options)
        }
        options.perplexity = 5
        #expect { try TSNE.fit(try Self.gaussian(1, 3, seed: 1), options) } throws: { ($0 as? AnalysisError)?.option == nil }
        var bad = x
        bad[3, 1] = .nan
        #expect { try TSNE.fit(bad, options) } throws: { "\($0)".contains("sample 3, feature 1") }
        options.components = 3
        #expect { try TSNE.fit(x, options) } throws: { ($0 as? AnalysisError)?.option == "--components" }
        options.method = .exact
        options.maxPoints = 10
        #expect { try TSNE.fit(x, options) } throws: { ($0 as? AnalysisError)?.option == "--max-points" }
        options = TSNE.Options()
        options.perplexity = 5
        options.angle = 1.5
        #expect { try TSNE.fit(x, options) } throws: { ($0 as? AnalysisError)?.option == "--angle" }
        options.angle = 0.5
        options.maxIter = 100
        #expect { try TSNE.fit(x, options) } throws: { ($0 as? AnalysisError)?.option == "--max-iter" }
        options.maxIter = 1000
        options.learningRate = .fixed(0)
        #expect { try TSNE.fit(x, options) } throws: { ($0 as? AnalysisError)?.option == "--learning-rate" }
        #expect { try Trustworthiness.score(x, x, neighbors: 10) } throws: { ($0 as? AnalysisError)?.option == "--neighbors" }
        #expect { try Trustworthiness.score(x, x.leadingColumns(2).selecting(rows: Array(0..<10)), neighbors: 2) }
            throws: { ($0 as? AnalysisError)?.option == nil }
    }
}
