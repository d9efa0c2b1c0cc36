import Foundation
import Testing
@testable import PhalanxAnalysis
import PhalanxCore

@Suite struct FastICATests {
    /// Sine, square wave and sawtooth (unit variance), 2 000 samples on t ∈ [0, 8], mixed
    /// by the matrix of scikit-learn's blind-source-separation example.
    static let n = 2000
    static let truth: [[Double]] = {
        let t = (0..<n).map { 8 * Double($0) / Double(n - 1) }
        var s = [t.map { sin(2 * $0) },
                 t.map { let v = sin(3 * $0); return v > 0 ? 1 : (v < 0 ? -1 : 0) },
                 t.map { 2 * ($0 - $0.rounded(.down)) - 1 }]
        for j in 0..<3 {
            let m = s[j].reduce(0, +) / Double(n)
            let sd = (s[j].reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n)).squareRoot()
            s[j] = s[j].map { $0 / sd }
        }
        return s
    }()
    static let mixing: [[Double]] = [[1, 1, 1], [0.5, 2, 1], [1.5, 1, 2]]
    static func mixed() throws -> Matrix {
        var v = [Float](repeating: 0, count: n * 3)
        for i in 0..<n { for f in 0..<3 { v[i * 3 + f] = Float((0..<3).reduce(0) { $0 + mixing[f][$1] * truth[$1][i] }) } }
        return try Matrix(rows: n, cols: 3, values: v)
    }

    static func correlation(_ a: [Double], _ b: [Double]) -> Double {
        let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
        var ab = 0.0, aa = 0.0, bb = 0.0
        for i in a.indices { ab += (a[i] - ma) * (b[i] - mb); aa += (a[i] - ma) * (a[i] - ma); bb += (b[i] - mb) * (b[i] - mb) }
        return ab / (aa * bb).squareRoot()
    }

    /// For each recovered source, the best |correlation| with a true source; the matches
    /// must be a permutation.
    static func matches(_ s: Matrix) -> [Double] {
        var best: [Double] = [], used = Set<Int>()
        for j in 0..<s.cols {
            let column = (0..<s.rows).map { Double(s[$0, j]) }
            let scores = truth.map { abs(correlation(column, $0)) }
            let k = scores.indices.max { scores[$0] < scores[$1] }!
            used.insert(k)
            best.append(scores[k])
        }
        return used.count == s.cols ? best : []
    }

    @Test(arguments: [FastICA.Algorithm.parallel, .deflation], [FastICA.Function.logcosh, .exp, .cube])
    func separatesThreeSignals(algorithm: FastICA.Algorithm, fun: FastICA.Function) throws {
        var options = FastICA.Options()
        options.algorithm = algorithm
        options.fun = fun
        let result = try FastICA.fit(try Self.mixed(), options)
        #expect(result.converged)
        let scores = Self.matches(result.sources)
        #expect(scores.count == 3)
        for s in scores { #expect(s >= 0.99) }
        // Unit-variance sources; components·mixing = I.
        for j in 0..<3 {
            let column = (0..<Self.n).map { Double(result.sources[$0, j]) }
            let m = column.reduce(0, +) / Double(Self.n)
            let v = column.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(Self.n)
            #expect(abs(v - 1) < 1e-4 && abs(m) < 1e-4)
            for c in 0..<3 {
                let p = (0..<3).reduce(0.0) { $0 + Double(result.components[j, $1]) * Double(result.mixing[$1, c]) }
                #expect(abs(p - (j == c ? 1 : 0)) < 1e-4)
            }
        }
    }

    /// scikit-learn 1.9.1 `FastICA(3, whiten_solver="eigh", random_state=0)` on the same
    /// data: its `components_`, rows normalised. Ours must match up to order and sign.
    @Test func matchesScikitLearnComponents() throws {
        let sklearn: [[Double]] = [[0.90141, -0.306467, -0.305841],
                                   [-0.837767, 0.164308, 0.52072],
                                   [0.471105, 0.67832, -0.563864]]
        let result = try FastICA.fit(try Self.mixed(), FastICA.Options())
        var used = Set<Int>()
        for j in 0..<3 {
            let row = (0..<3).map { Double(result.components[j, $0]) }
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let cosines = sklearn.map { r in abs(zip(r, row).reduce(0) { $0 + $1.0 * $1.1 }) / norm }
            let k = cosines.indices.max { cosines[$0] < cosines[$1] }!
            #expect(cosines[k] > 0.999)
            used.insert(k)
        }
        #expect(used.count == 3)
    }

    @Test func transformReproducesSources() throws {
        let x = try Self.mixed()
        let result = try FastICA.fit(x, FastICA.Options())
        let again = try result.transform(x)
        for (a, b) in zip(again.values, result.sources.values) { #expect(abs(a - b) < 1e-4) }
    }

    @Test func refusesBadInput() throws {
        let x = try Self.mixed()
        var options = FastICA.Options()
        options.components = 4
        #expect(throws: AnalysisError.option("--components", "FastICA extracts 1 to 3 components from 3 features, not 4")) {
            try FastICA.fit(x, options)
        }
        options = FastICA.Options()
        options.alpha = 3
        #expect(throws: AnalysisError.self) { try FastICA.fit(x, options) }
        var bad = x
        bad[5, 1] = .nan
        #expect(throws: AnalysisError.self) { try FastICA.fit(bad, FastICA.Options()) }
        // A copied feature: rank 2, so three components are refused.
        var dup = x
        for i in 0..<x.rows { dup[i, 2] = dup[i, 0] }
        do {
            _ = try FastICA.fit(dup, FastICA.Options())
            Issue.record("rank-deficient data accepted")
        } catch {
            #expect(error.option == "--components")
        }
    }
}
