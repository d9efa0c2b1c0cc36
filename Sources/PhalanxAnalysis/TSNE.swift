// t-distributed stochastic neighbour embedding (van der Maaten & Hinton, 2008), as
// scikit-learn's `TSNE` runs it: Gaussian affinities P calibrated to a perplexity by binary
// search, Student-t affinities Q in the embedding, KL(P‖Q) minimised by gradient descent with
// momentum and delta-bar-delta gains, early exaggeration for the first 250 iterations.
// Two gradients: the exact O(N²) one (any number of components) and Barnes–Hut
// (van der Maaten, 2014) on the k-nearest-neighbour P with a quadtree for the repulsion
// (TSNE+BarnesHut.swift). Left out: metrics other than Euclidean, precomputed distances,
// a `transform` of new samples (scikit-learn has none either).
import Foundation
import PhalanxCore

/// t-SNE: a 2-D (or few-D) embedding of the samples that keeps each one's nearest
/// neighbours near (van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR 2008;
/// Barnes–Hut: van der Maaten, "Accelerating t-SNE using Tree-Based Algorithms", JMLR 2014).
///
/// Options follow scikit-learn's `sklearn.manifold.TSNE` and its defaults: `components` 2,
/// `perplexity` 30 (the effective number of neighbours each sample's Gaussian covers),
/// `earlyExaggeration` 12 (P is multiplied by it for the first 250 iterations, momentum 0.5,
/// then 0.8), `learningRate` auto = max(N / earlyExaggeration / 4, 50), `maxIter` 1000,
/// stopping after `iterationsWithoutProgress` (300) iterations without a lower KL (checked
/// every 50) or a gradient norm under `minGradientNorm` (1e-7), `initialization` pca (the
/// first principal components scaled so the first has standard deviation 1e-4) or random
/// (N(0, 1e-4²)), `method` barnesHut (the quadtree approximation with `angle` 0.5; P on the
/// min(N − 1, 3·perplexity + 1) nearest neighbours; one or two components) or exact (dense
/// P and Q, O(N²) time and memory, up to `maxPoints` samples).
///
/// For three or more components the exact gradient is the true gradient of the KL for the
/// Student-t of `components − 1` degrees of freedom; scikit-learn's differs there (it uses
/// the kernel's power (1 + d²/α)^(−(α+1)/2) where the gradient has (1 + d²/α)^(−1)).
public enum TSNE {
    /// How the gradient is computed (`--tsne-method`).
    public enum Method: String, Sendable, CaseIterable {
        case barnesHut = "barnes_hut"
        case exact
    }

    /// The starting embedding (`--init`).
    public enum Initialization: String, Sendable, CaseIterable {
        case pca, random
    }

    /// The step size (`--learning-rate X|auto`).
    public enum LearningRate: Sendable, Equatable {
        /// max(N / early exaggeration / 4, 50) (Belkina et al. 2019, scikit-learn's default).
        case auto
        case fixed(Double)
    }

    public struct Options: Sendable {
        /// Embedding dimensions (`--components`).
        public var components = 2
        /// Target perplexity of each sample's conditional Gaussian (`--perplexity`).
        public var perplexity = 30.0
        /// Factor on P during the first 250 iterations (`--early-exaggeration`).
        public var earlyExaggeration = 12.0
        /// Step size (`--learning-rate`).
        public var learningRate = LearningRate.auto
        /// Total iterations, the 250 exaggerated ones included; at least 250 (`--max-iter`).
        public var maxIter = 1000
        /// Stop after this many iterations without a lower KL (scikit-learn's n_iter_without_progress).
        public var iterationsWithoutProgress = 300
        /// Stop when the gain-scaled gradient norm falls to this (scikit-learn's min_grad_norm).
        public var minGradientNorm = 1e-7
        /// Starting embedding (`--init pca|random`).
        public var initialization = Initialization.pca
        /// Barnes–Hut or exact gradient (`--tsne-method`).
        public var method = Method.barnesHut
        /// Barnes–Hut opening angle θ: a cell of width w at distance d is summarised when w/d < θ (`--angle`).
        public var angle = 0.5
        /// Seed of the random initialisation (`--seed`).
        public var seed: UInt64 = 0
        /// Most samples the exact method accepts: it holds N² Doubles of P (`--max-points`).
        public var maxPoints = 10_000
        public init() {}
    }

    public struct Result: Sendable {
        /// N × components.
        public var embedding: Matrix
        /// KL(P‖Q) of the final embedding (over the sparse P for Barnes–Hut, as scikit-learn's kl_divergence_).
        public var klDivergence: Double
        /// Iterations run (scikit-learn's n_iter_ + 1).
        public var iterations: Int
        /// The learning rate used (scikit-learn's learning_rate_).
        public var learningRate: Double
    }

    /// Iterations with early exaggeration (scikit-learn's _EXPLORATION_MAX_ITER).
    static let explorationIterations = 250
    /// Iterations between KL checks (scikit-learn's _N_ITER_CHECK).
    static let checkInterval = 50
    static let machineEpsilon = Double.ulpOfOne

    /// Embeds the rows of `x`.
    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        try x.validate(minimumRows: 2, method: "t-SNE")
        try check(options, samples: x.rows)
        let n = x.rows, dims = options.components
        let rate: Double
        switch options.learningRate {
        case .auto: rate = max(Double(n) / options.earlyExaggeration / 4, 50)
        case .fixed(let r): rate = r
        }
        var y = try initialEmbedding(x, options)
        let objective: Objective
        let finalKL: ([Double]) -> Double
        switch options.method {
        case .barnesHut:
            let k = min(n - 1, Int(3 * options.perplexity + 1))
            let graph = try Neighbors.nearest(x, k: k)
            let p = sparseAffinities(graph, perplexity: options.perplexity)
            let bh = BarnesHutObjective(p: p, components: dims, angle: options.angle)
            objective = bh.evaluate
            finalKL = { bh.exactKL($0) }
        case .exact:
            let p = denseAffinities(x, perplexity: options.perplexity)
            objective = { y, g, ex, err in exactObjective(p: p, y: y, n: n, dims: dims, exaggeration: ex, gradient: g, computeError: err) }
            finalKL = { y in
                var g = [Double](repeating: 0, count: n * dims)
                return y.withUnsafeBufferPointer { yb in g.withUnsafeMutableBufferPointer { gb in
                    exactObjective(p: p, y: yb.baseAddress!, n: n, dims: dims, exaggeration: 1, gradient: gb.baseAddress!, computeError: true)
                } }
            }
        }
        // Phase 1: exaggerated P, momentum 0.5; phase 2: the rest at momentum 0.8.
        var last = descend(&y, from: 0, to: explorationIterations, momentum: 0.5, learningRate: rate,
                           patience: explorationIterations, options: options, exaggeration: options.earlyExaggeration,
                           objective)
        if last < explorationIterations || options.maxIter > explorationIterations {
            last = descend(&y, from: last + 1, to: options.maxIter, momentum: 0.8, learningRate: rate,
                           patience: options.iterationsWithoutProgress, options: options, exaggeration: 1, objective)
        }
        return Result(embedding: Matrix(rows: n, cols: dims, doubles: y), klDivergence: finalKL(y),
                      iterations: last + 1, learningRate: rate)
    }

    static func check(_ o: Options, samples n: Int) throws(AnalysisError) {
        guard o.components >= 1 else { throw .option("--components", "needs at least 1 component, got \(o.components)") }
        guard o.perplexity > 0, o.perplexity.isFinite else {
            throw .option("--perplexity", "must be positive, got \(o.perplexity)")
        }
        guard o.perplexity < Double(n) else {
            throw .option("--perplexity", "\(o.perplexity) must be less than the number of samples (\(n))")
        }
        guard o.earlyExaggeration >= 1, o.earlyExaggeration.isFinite else {
            throw .option("--early-exaggeration", "must be at least 1, got \(o.earlyExaggeration)")
        }
        if case .fixed(let r) = o.learningRate, !(r > 0 && r.isFinite) {
            throw .option("--learning-rate", "must be positive or auto, got \(r)")
        }
        guard o.maxIter >= explorationIterations else {
            throw .option("--max-iter", "must be at least \(explorationIterations) (the early-exaggeration phase), got \(o.maxIter)")
        }
        guard o.angle >= 0, o.angle <= 1 else { throw .option("--angle", "must be in [0, 1], got \(o.angle)") }
        switch o.method {
        case .barnesHut:
            guard o.components <= 2 else {
                throw .option("--components", "barnes_hut embeds in 1 or 2 components (a quadtree), got \(o.components); use --tsne-method exact")
            }
        case .exact:
            guard n <= o.maxPoints else {
                let gib = Double(n) * Double(n) * 8 / Double(1 << 30)
                throw .option("--max-points", "exact t-SNE of \(n) samples holds an \(n)×\(n) P (\(String(format: "%.1f", gib)) GiB); the limit is \(o.maxPoints) samples (raise --max-points or use --tsne-method barnes_hut)")
            }
        }
    }

    // MARK: Affinities

    /// Conditional Gaussian probabilities of one sample over `m` squared distances, β found by
    /// scikit-learn's binary search (entropy within 1e-5 of log(perplexity), at most 100
    /// steps). The distances are shifted by their minimum first (the distribution is the
    /// same; the exponentials cannot all underflow). Returns β.
    @discardableResult
    static func conditionalRow(_ d: UnsafePointer<Double>, count m: Int, entropy target: Double,
                               _ p: UnsafeMutablePointer<Double>) -> Double {
        var lowest = Double.infinity
        for j in 0..<m { lowest = min(lowest, d[j]) }
        var beta = 1.0, betaMin = -Double.infinity, betaMax = Double.infinity
        for _ in 0..<100 {
            var sum = 0.0
            for j in 0..<m { let e = exp(-(d[j] - lowest) * beta); p[j] = e; sum += e }
            if sum == 0 { sum = 1e-8 }
            var weighted = 0.0
            for j in 0..<m { p[j] /= sum; weighted += (d[j] - lowest) * p[j] }
            let diff = log(sum) + beta * weighted - target
            if abs(diff) <= 1e-5 { break }
            if diff > 0 {
                betaMin = beta
                beta = betaMax == .infinity ? beta * 2 : (beta + betaMax) / 2
            } else {
                betaMax = beta
                beta = betaMin == -.infinity ? beta / 2 : (beta + betaMin) / 2
            }
        }
        return beta
    }

    /// The conditional P of every row of `graph` (squared distances), `count × k`.
    static func conditionalProbabilities(_ graph: NeighborGraph, perplexity: Double) -> [Double] {
        let n = graph.count, k = graph.k
        var squared = graph.distances.map { $0 * $0 }
        var p = [Double](repeating: 0, count: n * k)
        let target = log(perplexity)
        squared.withUnsafeMutableBufferPointer { sq in
        p.withUnsafeMutableBufferPointer { pb in
            let s = UncheckedSendable(sq.baseAddress!), out = UncheckedSendable(pb.baseAddress!)
            Parallel.forChunks(n, grain: 64) { _, range in
                for i in range { conditionalRow(s.value + i * k, count: k, entropy: target, out.value + i * k) }
            }
        }}
        return p
    }

    /// Symmetrised sparse P = (P + Pᵀ) / ΣP over the k-nearest-neighbour graph (CSR, columns ascending).
    static func sparseAffinities(_ graph: NeighborGraph, perplexity: Double) -> SparseAffinities {
        let n = graph.count, k = graph.k
        let conditional = conditionalProbabilities(graph, perplexity: perplexity)
        // Each row gets its own k entries and those of the rows that list it.
        var capacity = [Int](repeating: k, count: n)
        for e in 0..<(n * k) { capacity[Int(graph.indices[e])] += 1 }
        var start = [Int](repeating: 0, count: n + 1)
        for i in 0..<n { start[i + 1] = start[i] + capacity[i] }
        var fill = Array(start.prefix(n))
        var entries = [(Int32, Double)](repeating: (0, 0), count: start[n])
        for i in 0..<n {
            for c in 0..<k {
                let j = Int(graph.indices[i * k + c]), v = conditional[i * k + c]
                entries[fill[i]] = (Int32(j), v); fill[i] += 1
                entries[fill[j]] = (Int32(i), v); fill[j] += 1
            }
        }
        var rowStart = [Int](repeating: 0, count: n + 1)
        var columns: [Int32] = [], values: [Double] = []
        columns.reserveCapacity(start[n]); values.reserveCapacity(start[n])
        var total = 0.0
        for i in 0..<n {
            entries[start[i]..<start[i + 1]].sort { $0.0 < $1.0 }
            var e = start[i]
            while e < start[i + 1] {
                let j = entries[e].0
                var v = 0.0
                while e < start[i + 1] && entries[e].0 == j { v += entries[e].1; e += 1 }
                columns.append(j); values.append(v); total += v
            }
            rowStart[i + 1] = columns.count
        }
        let scale = 1 / max(total, machineEpsilon)
        for e in values.indices { values[e] *= scale }
        return SparseAffinities(n: n, rowStart: rowStart, columns: columns, values: values)
    }

    /// Dense symmetrised P (N × N, zero diagonal, off-diagonal at least machine epsilon) from
    /// all squared Euclidean distances, as scikit-learn's exact method.
    static func denseAffinities(_ x: Matrix, perplexity: Double) -> [Double] {
        let n = x.rows, d = x.cols
        var p = [Double](repeating: 0, count: n * n)
        let data = x.doubles
        let target = log(perplexity)
        var scratch = [Double](repeating: 0, count: Parallel.threads * 2 * max(n - 1, 1))
        data.withUnsafeBufferPointer { xb in
        p.withUnsafeMutableBufferPointer { pb in
        scratch.withUnsafeMutableBufferPointer { sb in
            let xs = UncheckedSendable(xb.baseAddress!), ps = UncheckedSendable(pb.baseAddress!)
            let ss = UncheckedSendable(sb.baseAddress!)
            Parallel.forChunks(n) { chunk, range in
                let dist = ss.value + chunk * 2 * (n - 1), row = dist + (n - 1)
                for i in range {
                    var m = 0
                    for j in 0..<n where j != i {
                        var s = 0.0
                        let a = xs.value + i * d, b = xs.value + j * d
                        for f in 0..<d { let t = a[f] - b[f]; s += t * t }
                        dist[m] = s; m += 1
                    }
                    conditionalRow(dist, count: n - 1, entropy: target, row)
                    m = 0
                    for j in 0..<n where j != i { ps.value[i * n + j] = row[m]; m += 1 }
                }
            }
        }}}
        var total = 0.0
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) {
                let v = p[i * n + j] + p[j * n + i]
                p[i * n + j] = v; p[j * n + i] = v; total += 2 * v
            }
        }
        let scale = 1 / max(total, machineEpsilon)
        for i in 0..<n { for j in 0..<n where j != i { p[i * n + j] = max(p[i * n + j] * scale, machineEpsilon) } }
        return p
    }

    // MARK: Initialisation

    static func initialEmbedding(_ x: Matrix, _ o: Options) throws(AnalysisError) -> [Double] {
        let n = x.rows, dims = o.components
        switch o.initialization {
        case .random:
            var rng = RNG(seed: o.seed)
            return (0..<(n * dims)).map { _ in 1e-4 * Double(rng.normal()) }
        case .pca:
            guard dims <= min(x.cols, n) else {
                throw .option("--init", "pca needs at least \(dims) features and samples for \(dims) components, got \(n)×\(x.cols); use --init random")
            }
            return try principalComponents(x, dims)
        }
    }

    /// The projections on the first `dims` principal components (eigenvectors of the
    /// covariance, signed so each one's largest-magnitude loading is positive, as
    /// scikit-learn's svd_flip), scaled so the first has standard deviation 1e-4.
    static func principalComponents(_ x: Matrix, _ dims: Int) throws(AnalysisError) -> [Double] {
        let n = x.rows, d = x.cols
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for f in 0..<d { mean[f] += Double(x.values[i * d + f]) } }
        for f in 0..<d { mean[f] /= Double(n) }
        var centered = x.values
        for i in 0..<n { for f in 0..<d { centered[i * d + f] -= Float(mean[f]) } }
        var cov = [Float](repeating: 0, count: d * d)
        centered.withUnsafeBufferPointer { c in cov.withUnsafeMutableBufferPointer { out in
            BLAS.gemm(transA: true, m: d, n: d, k: n, c.baseAddress!, c.baseAddress!, out.baseAddress!, parallel: true)
        }}
        let (_, vectors) = try LAPACK.symmetricEigen(cov.map(Double.init), n: d, indices: (d - dims)...(d - 1))
        var y = [Double](repeating: 0, count: n * dims)
        for c in 0..<dims {
            let v = Array(vectors[((dims - 1 - c) * d)..<((dims - c) * d)])  // descending eigenvalues
            var big = 0
            for f in 0..<d where abs(v[f]) > abs(v[big]) { big = f }
            let sign: Double = v[big] < 0 ? -1 : 1
            for i in 0..<n {
                var s = 0.0
                for f in 0..<d { s += Double(centered[i * d + f]) * v[f] }
                y[i * dims + c] = sign * s
            }
        }
        var m = 0.0, ss = 0.0
        for i in 0..<n { m += y[i * dims] }
        m /= Double(n)
        for i in 0..<n { ss += (y[i * dims] - m) * (y[i * dims] - m) }
        let std = (ss / Double(n)).squareRoot()
        let scale = std > 0 ? 1e-4 / std : 1
        return y.map { $0 * scale }
    }

    // MARK: Optimisation

    /// KL and its gradient at `y` (P multiplied by `exaggeration`); the KL only when asked (else NaN).
    typealias Objective = (_ y: UnsafePointer<Double>, _ gradient: UnsafeMutablePointer<Double>,
                           _ exaggeration: Double, _ computeError: Bool) -> Double

    /// scikit-learn's `_gradient_descent`: iterations `from ..< to` with momentum and gains
    /// (+0.2 where the step keeps its sign, ×0.8 where it flips, at least 0.01), the KL
    /// checked every 50 iterations. Returns the last iteration run.
    static func descend(_ y: inout [Double], from start: Int, to end: Int, momentum: Double, learningRate: Double,
                        patience: Int, options: Options, exaggeration: Double, _ objective: Objective) -> Int {
        let count = y.count
        var update = [Double](repeating: 0, count: count), gains = [Double](repeating: 1, count: count)
        var gradient = [Double](repeating: 0, count: count)
        var best = Double.greatestFiniteMagnitude, bestIteration = start, i = start
        y.withUnsafeMutableBufferPointer { yb in
        update.withUnsafeMutableBufferPointer { u in
        gains.withUnsafeMutableBufferPointer { g in
        gradient.withUnsafeMutableBufferPointer { grad in
            let p = yb.baseAddress!
            var iteration = start
            while iteration < end {
                i = iteration
                let checking = (iteration + 1) % checkInterval == 0
                let error = objective(p, grad.baseAddress!, exaggeration, checking || iteration == end - 1)
                var norm2 = 0.0
                for e in 0..<count {
                    if u[e] * grad[e] < 0 { g[e] += 0.2 } else { g[e] = max(g[e] * 0.8, 0.01) }
                    let step = grad[e] * g[e]
                    norm2 += step * step
                    u[e] = momentum * u[e] - learningRate * step
                    p[e] += u[e]
                }
                if checking {
                    if error < best {
                        best = error; bestIteration = iteration
                    } else if iteration - bestIteration > patience {
                        break
                    }
                    if norm2.squareRoot() <= options.minGradientNorm { break }
                }
                iteration += 1
            }
        }}}}
        return i
    }

    /// The exact KL (when `computeError`) and its gradient for dense P, any number of
    /// components: q_ij ∝ (1 + d²/α)^(−(α+1)/2), α = max(dims − 1, 1),
    /// ∂C/∂y_i = (2(α+1)/α) Σ_j (p_ij − q_ij)(1 + d²/α)^(−1)(y_i − y_j).
    static func exactObjective(p: [Double], y: UnsafePointer<Double>, n: Int, dims: Int, exaggeration: Double,
                               gradient: UnsafeMutablePointer<Double>, computeError: Bool) -> Double {
        let alpha = Double(max(dims - 1, 1)), power = (alpha + 1) / 2
        let threads = Parallel.threads
        var partial = [Double](repeating: 0, count: threads), klPartial = [Double](repeating: 0, count: threads)
        let ys = UncheckedSendable(y), gs = UncheckedSendable(gradient)
        @inline(__always) func kernel(_ i: Int, _ j: Int) -> (w: Double, t: Double, d: Double) {
            var d2 = 0.0
            for a in 0..<dims { let t = ys.value[i * dims + a] - ys.value[j * dims + a]; d2 += t * t }
            let w = 1 / (1 + d2 / alpha)
            return (w, alpha == 1 ? w : pow(w, power), d2)
        }
        partial.withUnsafeMutableBufferPointer { zb in
            let zs = UncheckedSendable(zb.baseAddress!)
            Parallel.forChunks(n, grain: 16) { chunk, range in
                var z = 0.0
                for i in range { for j in 0..<n where j != i { z += kernel(i, j).t } }
                zs.value[chunk] = z
            }
        }
        let z = max(partial.reduce(0, +), machineEpsilon)
        let c = 2 * (alpha + 1) / alpha
        p.withUnsafeBufferPointer { pb in klPartial.withUnsafeMutableBufferPointer { kb in
            let ps = UncheckedSendable(pb.baseAddress!), ks = UncheckedSendable(kb.baseAddress!)
            Parallel.forChunks(n, grain: 16) { chunk, range in
                var kl = 0.0
                for i in range {
                    for a in 0..<dims { gs.value[i * dims + a] = 0 }
                    for j in 0..<n where j != i {
                        let (w, t, _) = kernel(i, j)
                        let pij = exaggeration * ps.value[i * n + j], q = max(t / z, machineEpsilon)
                        if computeError { kl += pij * log(max(pij, machineEpsilon) / q) }
                        let m = c * (pij - t / z) * w
                        for a in 0..<dims { gs.value[i * dims + a] += m * (ys.value[i * dims + a] - ys.value[j * dims + a]) }
                    }
                }
                ks.value[chunk] = kl
            }
        }}
        return computeError ? klPartial.reduce(0, +) : .nan
    }
}

/// A symmetric sparse P in CSR form: row `i`'s entries are `rowStart[i] ..< rowStart[i + 1]`.
struct SparseAffinities: Sendable {
    let n: Int
    let rowStart: [Int]
    let columns: [Int32]
    let values: [Double]

    /// The dense N × N matrix (for tests and checks).
    var dense: [Double] {
        var d = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for e in rowStart[i]..<rowStart[i + 1] { d[i * n + Int(columns[e])] = values[e] } }
        return d
    }
}
