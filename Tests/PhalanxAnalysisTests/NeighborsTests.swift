import Testing
@testable import PhalanxAnalysis
import PhalanxCore

@Suite struct NeighborsTests {
    /// Brute force in Double on random points: the same neighbours and distances.
    @Test func matchesDirectSearch() throws {
        var rng = RNG(seed: 3)
        let n = 300, d = 7, k = 5
        let x = try Matrix(rows: n, cols: d, values: (0..<(n * d)).map { _ in rng.normal() })
        let graph = try Neighbors.nearest(x, k: k)
        for i in stride(from: 0, to: n, by: 17) {
            var all: [(Double, Int)] = []
            for j in 0..<n where j != i {
                var s = 0.0
                for f in 0..<d { let t = Double(x[i, f]) - Double(x[j, f]); s += t * t }
                all.append((s.squareRoot(), j))
            }
            all.sort { $0.0 < $1.0 }
            for c in 0..<k {
                #expect(graph.neighbor(i, c) == all[c].1)
                #expect(abs(graph.distance(i, c) - all[c].0) < 1e-12)
            }
        }
    }

    @Test func refusesTooManyNeighbours() throws {
        let x = try Matrix(rows: 3, cols: 2, values: [0, 0, 1, 1, 2, 2])
        #expect(throws: AnalysisError.self) { try Neighbors.nearest(x, k: 3) }
    }

    @Test func eigenOfKnownMatrix() throws {
        // [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, −1)/√2 and (1, 1)/√2.
        let (values, vectors) = try LAPACK.symmetricEigen([2, 1, 1, 2], n: 2)
        #expect(abs(values[0] - 1) < 1e-12 && abs(values[1] - 3) < 1e-12)
        #expect(abs(abs(vectors[2]) - 0.5.squareRoot()) < 1e-12 && abs(vectors[2] - vectors[3]) < 1e-12)
        let top = try LAPACK.symmetricEigen([2, 1, 1, 2], n: 2, indices: 1...1)
        #expect(top.values.count == 1 && abs(top.values[0] - 3) < 1e-12)
        let l = try #require(LAPACK.cholesky([4, 2, 2, 3], n: 2))
        #expect(l == [2, 0, 1, 2.0.squareRoot()])
        #expect(LAPACK.cholesky([1, 2, 2, 1], n: 2) == nil)
        let x = try #require(LAPACK.solve([2, 1, 1, 3], n: 2, [3, 5, 4, 10], nrhs: 2))
        // [[2,1],[1,3]]·X = [[3,5],[4,10]] → X = [[1,1],[1,3]]
        for (a, b) in zip(x, [1.0, 1, 1, 3]) { #expect(abs(a - b) < 1e-12) }
    }
}
