import Foundation
import Testing
@testable import PhalanxAnalysis
import PhalanxCore

/// Well-separated Gaussian blobs: `perBlob` samples around each of `centers` (σ = `std`).
func blobs(_ centers: [[Float]], perBlob: Int, std: Float, seed: UInt64) -> (Matrix, [Int]) {
    var rng = RNG(seed: seed)
    let d = centers[0].count
    var values: [Float] = [], labels: [Int] = []
    for i in 0..<(perBlob * centers.count) {
        let c = i % centers.count  // interleaved, so every shard of rows holds every blob
        for j in 0..<d { values.append(centers[c][j] + rng.normal(std: std)) }
        labels.append(c)
    }
    return ((try? Matrix(rows: labels.count, cols: d, values: values))!, labels)
}

@Suite struct ClusterMetricsTests {
    @Test func perfectAndPermutedClusteringsScoreOne() throws {
        let m = try ClusterMetrics(labels: [0, 0, 1, 1, 2, 2], clusters: [5, 5, 3, 3, 9, 9])
        #expect(abs(m.nmi - 1) < 1e-12 && abs(m.ari - 1) < 1e-12 && m.purity == 1)
    }

    /// Hand-computed: labels [0,0,0,1,1,1], clusters [0,0,1,1,2,2].
    @Test func knownValues() throws {
        let m = try ClusterMetrics(labels: [0, 0, 0, 1, 1, 1], clusters: [0, 0, 1, 1, 2, 2])
        // Contingency [[2,1,0],[0,1,2]]: MI = (2·(1/3)ln2 + 2·(1/6)ln1·… ) computed below.
        let n = 6.0
        let mi = 2 * (2 / n) * log(n * 2 / (3 * 2)) + 2 * (1 / n) * log(n * 1 / (3 * 2))
        let hu = log(2.0), hv = -3 * (2 / n) * log(2 / n)
        #expect(abs(m.nmi - mi / ((hu + hv) / 2)) < 1e-12)
        // Pairs: Σ C(nij,2) = 2, Σ C(a,2) = 6, Σ C(b,2) = 3, C(6,2) = 15 → (2 − 1.2)/(4.5 − 1.2).
        #expect(abs(m.ari - (2 - 1.2) / (4.5 - 1.2)) < 1e-12)
        #expect(abs(m.purity - 5.0 / 6) < 1e-12)  // majorities 2 + 1 + 2
    }

    @Test func independentClusteringScoresNearZero() throws {
        var rng = RNG(seed: 1)
        let labels = (0..<4000).map { $0 % 4 }
        let clusters = (0..<4000).map { _ in rng.int(below: 4) }
        let m = try ClusterMetrics(labels: labels, clusters: clusters)
        #expect(m.nmi < 0.01 && abs(m.ari) < 0.01)
    }
}

@Suite struct KMeansTests {
    @Test func separatedBlobsAreFoundExactly() throws {
        let (x, truth) = blobs([[0, 0], [10, 0], [0, 10], [10, 10]], perBlob: 50, std: 0.5, seed: 2)
        var o = KMeans.Options()
        o.clusters = 4
        o.seed = 3
        let r = try KMeans.fit(x, o)
        let m = try ClusterMetrics(labels: truth, clusters: r.labels)
        #expect(m.nmi == 1 && m.ari == 1)
        #expect(r.converged)
        // Inertia equals the sum of squared distances to the cluster means (the fixed point).
        var expected = 0.0
        for c in 0..<4 {
            let members = (0..<x.rows).filter { r.labels[$0] == c }
            for j in 0..<2 {
                let mean = members.reduce(0.0) { $0 + Double(x[$1, j]) } / Double(members.count)
                expected += members.reduce(0.0) { $0 + pow(Double(x[$1, j]) - mean, 2) }
            }
        }
        #expect(abs(r.inertia - expected) < 1e-3 * expected)
    }

    /// One-dimensional: {0, 1, 10, 11} in two clusters → centres 0.5 and 10.5, inertia 1.
    @Test func handComputedCase() throws {
        let x = try Matrix(rows: 4, cols: 1, values: [0, 1, 10, 11])
        var o = KMeans.Options()
        o.clusters = 2
        o.initialization = .random
        let r = try KMeans.fit(x, o)
        let centres = r.centers.values.sorted()
        #expect(abs(centres[0] - 0.5) < 1e-6 && abs(centres[1] - 10.5) < 1e-6)
        #expect(abs(r.inertia - 1) < 1e-9)
        #expect(r.runInertias.count == 10)  // n_init 'auto' is 10 for random starts
    }

    /// Hamerly's bounds skip work, not answers: the same iterations, labels and centres as
    /// plain Lloyd (written out here in Double) from the same start, on overlapping blobs
    /// that take many iterations.
    @Test func boundsGiveLloydsIterations() throws {
        let (x, _) = blobs([[0, 0, 0], [2, 0, 1], [0, 2, 0], [2, 2, 2], [1, 1, 1]], perBlob: 120, std: 0.9, seed: 8)
        let k = 6, n = x.rows, d = x.cols
        let start = x.selecting(rows: [0, 1, 2, 3, 4, 5])
        let fast = try KMeans.lloyd(Shard(x), centers: start, norms: Neighbors.squaredNorms(x), maxIter: 300, tolerance: 0)
        var centers = (0..<(k * d)).map { Double(start.values[$0]) }
        var labels = [Int](repeating: -1, count: n)
        var iterations = 0
        while iterations < 300 {
            var next = labels
            for i in 0..<n {
                var best = 0, bestValue = Double.infinity
                for c in 0..<k {
                    var s = 0.0
                    for j in 0..<d { let t = Double(x[i, j]) - centers[c * d + j]; s += t * t }
                    if s < bestValue { bestValue = s; best = c }
                }
                next[i] = best
            }
            iterations += 1
            var sums = [Double](repeating: 0, count: k * d), counts = [Double](repeating: 0, count: k)
            for i in 0..<n { counts[next[i]] += 1; for j in 0..<d { sums[next[i] * d + j] += Double(x[i, j]) } }
            for c in 0..<k where counts[c] > 0 { for j in 0..<d { centers[c * d + j] = Float(sums[c * d + j] / counts[c]).double } }
            if next == labels { break }
            labels = next
        }
        #expect(fast.iterations == iterations && iterations > 5)
        #expect(fast.labels == labels)
        for v in 0..<(k * d) { #expect(abs(Double(fast.centers.values[v]) - centers[v]) < 1e-5) }
    }

    @Test func refusesBadOptions() throws {
        let x = try Matrix(rows: 3, cols: 1, values: [0, 1, 2])
        var o = KMeans.Options()
        o.clusters = 4
        #expect(throws: AnalysisError.option("--clusters", "4 clusters of 3 samples; K must not exceed the samples")) {
            try KMeans.fit(x, o)
        }
        let bad = try Matrix(rows: 3, cols: 1, values: [0, .nan, 2])
        o.clusters = 2
        #expect(throws: AnalysisError.input("the features hold nan at sample 1, feature 0")) { try KMeans.fit(bad, o) }
    }
}

@Suite struct PCATests {
    /// Samples with covariance diag(9, 4, 1) rotated by a known orthogonal matrix: the
    /// components are its columns, the variances 9, 4, 1.
    @Test func recoversAKnownCovariance() throws {
        let s = Float(0.5).squareRoot()
        let rotation: [[Float]] = [[s, s, 0], [-s, s, 0], [0, 0, 1]]  // rows are the principal directions
        var rng = RNG(seed: 5)
        let n = 20000
        var values: [Float] = []
        for _ in 0..<n {
            let z = [3 * rng.normal(), 2 * rng.normal(), rng.normal()]
            for j in 0..<3 { values.append(5 + (0..<3).reduce(Float(0)) { $0 + z[$1] * rotation[$1][j] }) }
        }
        let x = try Matrix(rows: n, cols: 3, values: values)
        let r = try PCA.fit(x, PCA.Options())
        for (v, e) in zip(r.explainedVariance, [9.0, 4, 1]) { #expect(abs(v - e) < 0.05 * e) }
        for c in 0..<3 {
            let dot = (0..<3).reduce(Float(0)) { $0 + r.components[c, $1] * rotation[c][$1] }
            #expect(abs(abs(dot) - 1) < 2e-3)
        }
        #expect(abs(r.explainedVarianceRatio.reduce(0, +) - 1) < 1e-12)
        for m in r.mean { #expect(abs(m - 5) < 0.05) }
        // Whitened projections have unit variance.
        var o = PCA.Options()
        o.components = 2
        o.whiten = true
        let w = try PCA.fit(x, o)
        let y = w.transform(x)
        for j in 0..<2 {
            let v = (0..<n).reduce(0.0) { $0 + Double(y[$1, j] * y[$1, j]) } / Double(n - 1)
            #expect(abs(v - 1) < 1e-3)
        }
        #expect(abs(w.noiseVariance - r.explainedVariance[2]) < 1e-9)
    }

    @Test func refusesTooManyComponents() throws {
        let x = try Matrix(rows: 3, cols: 5, values: (0..<15).map { Float($0 * $0 % 7) })
        var o = PCA.Options()
        o.components = 4
        #expect(throws: AnalysisError.self) { try PCA.fit(x, o) }
    }
}

@Suite struct GaussianMixtureTests {
    /// Two well-separated Gaussians of known means, weights and variances.
    @Test func emRecoversKnownMeans() throws {
        var rng = RNG(seed: 9)
        var values: [Float] = []
        var truth: [Int] = []
        for i in 0..<3000 {
            let c = i % 3 == 0 ? 1 : 0  // weights 2/3 and 1/3
            let mean: [Float] = c == 0 ? [-4, 0] : [4, 2]
            let std: [Float] = c == 0 ? [1, 0.5] : [0.5, 1.5]
            for j in 0..<2 { values.append(mean[j] + std[j] * rng.normal()) }
            truth.append(c)
        }
        let x = try Matrix(rows: 3000, cols: 2, values: values)
        for covariance in GaussianMixture.Covariance.allCases {
            var o = GaussianMixture.Options()
            o.components = 2
            o.covariance = covariance
            let r = try GaussianMixture.fit(x, o)
            let first = r.means[0] < 0 ? 0 : 1, second = 1 - first
            #expect(abs(r.means[first * 2] + 4) < 0.1 && abs(r.means[first * 2 + 1]) < 0.1)
            #expect(abs(r.means[second * 2] - 4) < 0.1 && abs(r.means[second * 2 + 1] - 2) < 0.15)
            #expect(abs(r.weights[first] - 2.0 / 3) < 0.02)
            let variance = covariance == .full ? r.covariances[second * 4 + 3] : r.covariances[second * 2 + 1]
            #expect(abs(variance - 2.25) < 0.2)
            #expect(try ClusterMetrics(labels: truth, clusters: r.labels).ari > 0.99)
            #expect(r.converged)
            // The log-likelihood never falls between EM iterations.
            for (a, b) in zip(r.history, r.history.dropFirst()) { #expect(b >= a - 1e-9) }
        }
    }

    /// One Gaussian: the mean log-likelihood of the ML fit is −½(d·ln 2π + ln|Σ| + d).
    @Test func singleComponentLikelihoodIsClosedForm() throws {
        let (x, _) = blobs([[1, 2, 3]], perBlob: 500, std: 2, seed: 4)
        let r = try GaussianMixture.fit(x, GaussianMixture.Options())
        let pca = try PCA.fit(x, PCA.Options())
        // |Σ_ML| = Π eigenvalues of the (n−1)-covariance scaled to n.
        let scale = Double(x.rows - 1) / Double(x.rows)
        let logDet = pca.explainedVariance.reduce(0) { $0 + log($1 * scale + 1e-6) }
        let expected = -0.5 * (3 * log(2 * Double.pi) + logDet + 3)
        #expect(abs(r.meanLogLikelihood - expected) < 1e-6)
        #expect(r.parameterCount == 0 + 3 + 6)
    }
}

extension Float {
    var double: Double { Double(self) }
}
