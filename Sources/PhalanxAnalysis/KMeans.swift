// k-means clustering (Lloyd 1982): initialise K centres, assign every sample to its
// nearest centre, move every centre to the mean of its samples, repeat until the centres
// stop moving. Initialisation by greedy k-means++ (Arthur & Vassilvitskii 2007, with
// 2 + ⌊ln K⌋ candidates per centre as scikit-learn) or K random samples; `nInit` restarts
// keep the run of least inertia.
//
// Data-parallel: every rank assigns its shard; the per-cluster sums and counts are
// allreduced (the sufficient statistics of the M-step), so every rank moves the centres
// the same way. k-means++ draws the same random numbers on every rank; the rank holding
// the drawn sample contributes it to an allreduce, so the centres are those one process
// would choose on the same rows.
import Foundation
import PhalanxCore

/// k-means clustering of samples.
public enum KMeans {
    public enum Initialization: String, Sendable, CaseIterable {
        case kMeansPlusPlus = "k-means++"
        case random
    }

    public struct Options: Sendable {
        /// K (`--clusters`).
        public var clusters = 8
        /// Restarts (`--n-init`); nil: 1 for k-means++, 10 for random (scikit-learn's 'auto').
        public var nInit: Int?
        /// Lloyd iterations per run (`--max-iter`).
        public var maxIter = 300
        /// Stop when the centres move less than `tol` × the mean feature variance (`--tol`).
        public var tol = 1e-4
        public var seed: UInt64 = 0
        /// `--init`.
        public var initialization = Initialization.kMeansPlusPlus
        public init() {}
    }

    public struct Result: Sendable {
        /// `K × d`.
        public var centers: Matrix
        /// The cluster of each of this rank's samples.
        public var labels: [Int]
        /// Σ squared distance of every sample to its centre (over all ranks).
        public var inertia: Double
        /// Lloyd iterations of the kept run.
        public var iterations: Int
        /// Inertia before each M-step of the kept run.
        public var history: [Double]
        /// The restart that was kept (0-based) and every restart's final inertia.
        public var bestRun: Int
        public var runInertias: [Double]
        public var converged: Bool
    }

    /// Fits on one process's samples.
    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        do { return try fit(Shard(x), options) } catch let e as AnalysisError { throw e } catch { throw .input("\(error)") }
    }

    /// Fits on every rank's shard; every rank gets the same centres and its own labels.
    public static func fit(_ shard: Shard, _ options: Options) throws -> Result {
        let x = shard.local, k = options.clusters
        try x.validate(minimumRows: 0, method: "k-means")
        guard k >= 1 else { throw AnalysisError.option("--clusters", "must be at least 1, got \(k)") }
        guard k <= shard.total else {
            throw AnalysisError.option("--clusters", "\(k) clusters of \(shard.total) samples; K must not exceed the samples")
        }
        let runs = options.nInit ?? (options.initialization == .random ? 10 : 1)
        guard runs >= 1 else { throw AnalysisError.option("--n-init", "must be at least 1, got \(runs)") }
        guard options.maxIter >= 1 else { throw AnalysisError.option("--max-iter", "must be at least 1, got \(options.maxIter)") }
        guard options.tol >= 0 else { throw AnalysisError.option("--tol", "must not be negative, got \(options.tol)") }
        let tolerance = try scaledTolerance(shard, options.tol)
        let norms = Neighbors.squaredNorms(x)
        var best: Result?
        var inertias: [Double] = []
        for run in 0..<runs {
            var rng = RNG(seed: options.seed, stream: UInt64(run))
            let start = options.initialization == .kMeansPlusPlus
                ? try plusPlus(shard, k: k, norms: norms, rng: &rng)
                : try randomSamples(shard, k: k, rng: &rng)
            var r = try lloyd(shard, centers: start, norms: norms, maxIter: options.maxIter, tolerance: tolerance)
            inertias.append(r.inertia)
            r.bestRun = run
            if best == nil || r.inertia < best!.inertia { best = r }
        }
        best!.runInertias = inertias
        return best!
    }

    /// The nearest centre of each row and its squared distance.
    public static func assign(_ x: Matrix, centers: Matrix) -> (labels: [Int], distances: [Float]) {
        var labels = [Int](repeating: 0, count: x.rows)
        var distances = [Float](repeating: 0, count: x.rows)
        var sums = [Double](), counts = [Double](), second = [Float]()
        assignAndSum(x, centers: centers, norms: Neighbors.squaredNorms(x), labels: &labels, distances: &distances,
                     second: &second, sums: &sums, counts: &counts, accumulate: false)
        return (labels, distances)
    }

    /// tol × the mean over features of the variance (scikit-learn's `_tolerance`).
    static func scaledTolerance(_ shard: Shard, _ tol: Double) throws -> Double {
        let x = shard.local, d = x.cols
        var moments = [Double](repeating: 0, count: 2 * d)
        for i in 0..<x.rows { for j in 0..<d { let v = Double(x.values[i * d + j]); moments[j] += v; moments[d + j] += v * v } }
        try shard.sum(&moments)
        let n = Double(shard.total)
        var variance = 0.0
        for j in 0..<d { let m = moments[j] / n; variance += max(moments[d + j] / n - m * m, 0) }
        return tol * variance / Double(d)
    }

    /// Global row `g`'s features, on every rank (its owner contributes them to a sum).
    static func sample(_ shard: Shard, _ g: Int) throws -> [Double] {
        var v = [Double](repeating: 0, count: shard.cols)
        let local = g - shard.offset
        if local >= 0 && local < shard.local.rows {
            for j in 0..<shard.cols { v[j] = Double(shard.local.values[local * shard.cols + j]) }
        }
        try shard.sum(&v)
        return v
    }

    static func randomSamples(_ shard: Shard, k: Int, rng: inout RNG) throws -> Matrix {
        // K distinct samples, drawn by a partial Fisher–Yates shuffle of the global indices.
        var chosen: [Int] = []
        var taken: [Int: Int] = [:]
        for i in 0..<k {
            let j = i + rng.int(below: shard.total - i)
            let vj = taken[j] ?? j
            taken[j] = taken[i] ?? i
            chosen.append(vj)
        }
        var centers = Matrix(rows: k, cols: shard.cols)
        for (c, g) in chosen.enumerated() {
            let v = try sample(shard, g)
            for j in 0..<shard.cols { centers.values[c * shard.cols + j] = Float(v[j]) }
        }
        return centers
    }

    /// Greedy k-means++: each new centre is the best (least potential) of 2 + ⌊ln K⌋
    /// candidates drawn with probability proportional to the squared distance to the
    /// nearest centre chosen so far.
    static func plusPlus(_ shard: Shard, k: Int, norms: [Float], rng: inout RNG) throws -> Matrix {
        let x = shard.local, d = x.cols, n = x.rows
        let trials = 2 + Int(log(Double(k)))
        var centers = Matrix(rows: k, cols: d)
        let first = try sample(shard, rng.int(below: shard.total))
        for j in 0..<d { centers.values[j] = Float(first[j]) }
        var closest = squaredDistances(x, norms: norms, to: Matrix(rows: 1, cols: d, doubles: first)).map(Double.init)
        var candidateDistances = [Float]()
        for c in 1..<max(k, 1) {
            // This rank's share of the potential, and the ranks' shares before it.
            var shares = [Double](repeating: 0, count: shard.world.size)
            shares[shard.world.rank] = closest.reduce(0, +)
            try shard.sum(&shares)
            let potential = shares.reduce(0, +)
            let before = shares[0..<shard.world.rank].reduce(0, +)
            var candidates = [Double](repeating: 0, count: trials * d)
            var prefix = [Double](repeating: 0, count: n)
            var running = 0.0
            for i in 0..<n { running += closest[i]; prefix[i] = running }
            for t in 0..<trials {
                let target = Double(rng.nextFloat64()) * potential
                // Owned here when it falls in this rank's share (the last rank takes the end).
                let isLast = shard.world.rank == shard.world.size - 1
                guard n > 0, target >= before, target < before + shares[shard.world.rank] || (isLast && target >= before) else { continue }
                var lo = 0, hi = n - 1
                let local = target - before
                while lo < hi { let mid = (lo + hi) / 2; if prefix[mid] <= local { lo = mid + 1 } else { hi = mid } }
                for j in 0..<d { candidates[t * d + j] = Double(x.values[lo * d + j]) }
            }
            try shard.sum(&candidates)
            let candidateMatrix = Matrix(rows: trials, cols: d, doubles: candidates)
            candidateDistances = squaredDistances(x, norms: norms, to: candidateMatrix)
            var potentials = [Double](repeating: 0, count: trials)
            for t in 0..<trials {
                var s = 0.0
                for i in 0..<n { s += min(closest[i], Double(candidateDistances[i * trials + t])) }
                potentials[t] = s
            }
            try shard.sum(&potentials)
            var bestTrial = 0
            for t in 1..<trials where potentials[t] < potentials[bestTrial] { bestTrial = t }
            for i in 0..<n { closest[i] = min(closest[i], Double(candidateDistances[i * trials + bestTrial])) }
            for j in 0..<d { centers.values[c * d + j] = candidateMatrix.values[bestTrial * d + j] }
        }
        return centers
    }

    /// Squared distances `n × m` from the rows of `x` to the rows of `c` (clamped at 0).
    static func squaredDistances(_ x: Matrix, norms: [Float], to c: Matrix) -> [Float] {
        let n = x.rows, m = c.rows, d = x.cols
        var out = [Float](repeating: 0, count: n * m)
        let cNorms = Neighbors.squaredNorms(c)
        x.values.withUnsafeBufferPointer { a in
            c.values.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    BLAS.gemm(transB: true, m: n, n: m, k: d, alpha: -2, a.baseAddress!, b.baseAddress!, o.baseAddress!,
                              parallel: true)
                }
            }
        }
        for i in 0..<n { for j in 0..<m { out[i * m + j] = max(out[i * m + j] + norms[i] + cNorms[j], 0) } }
        return out
    }

    /// Labels and squared distances of every row to its nearest centre (and, where `second`
    /// holds a value per row, to its second nearest); with `accumulate`, also the
    /// per-cluster sums (`K × d`) and counts of the rows.
    static func assignAndSum(_ x: Matrix, centers: Matrix, norms: [Float], labels: inout [Int], distances: inout [Float],
                             second: inout [Float], sums: inout [Double], counts: inout [Double], accumulate: Bool) {
        let n = x.rows, d = x.cols, k = centers.rows
        let cNorms = Neighbors.squaredNorms(centers)
        let block = 256
        let blocks = (n + block - 1) / block
        let threads = Parallel.threads
        var partSums = [[Double]](repeating: accumulate ? [Double](repeating: 0, count: k * d) : [], count: threads)
        var partCounts = [[Double]](repeating: [Double](repeating: 0, count: k), count: threads)
        var scratch = [[Float]](repeating: [Float](repeating: 0, count: block * k), count: threads)
        let wantSecond = second.count == n
        labels.withUnsafeMutableBufferPointer { lab in
        distances.withUnsafeMutableBufferPointer { dist in
        second.withUnsafeMutableBufferPointer { sec in
        x.values.withUnsafeBufferPointer { xv in
        centers.values.withUnsafeBufferPointer { cv in
        partSums.withUnsafeMutableBufferPointer { ps in
        partCounts.withUnsafeMutableBufferPointer { pc in
        scratch.withUnsafeMutableBufferPointer { sc in
            let box = UncheckedSendable((lab, dist, ps, pc, sc, sec))
            Parallel.forChunks(blocks) { thread, range in
                let (lab, dist, ps, pc, sc, sec) = box.value
                sc[thread].withUnsafeMutableBufferPointer { g in
                ps[thread].withUnsafeMutableBufferPointer { s in
                    for b in range {
                        let lo = b * block, rows = min(block, n - lo)
                        BLAS.gemm(transB: true, m: rows, n: k, k: d, xv.baseAddress! + lo * d, cv.baseAddress!, g.baseAddress!)
                        for r in 0..<rows {
                            let i = lo + r
                            var best = 0
                            var bestValue = cNorms[0] - 2 * g[r * k], secondValue = Float.infinity
                            for c in 1..<max(k, 1) {
                                let v = cNorms[c] - 2 * g[r * k + c]
                                if v < bestValue { secondValue = bestValue; bestValue = v; best = c }
                                else if v < secondValue { secondValue = v }
                            }
                            lab[i] = best
                            dist[i] = max(bestValue + norms[i], 0)
                            if wantSecond { sec[i] = max(secondValue + norms[i], 0) }
                            if accumulate {
                                pc[thread][best] += 1
                                let row = xv.baseAddress! + i * d
                                let sum = s.baseAddress! + best * d
                                for j in 0..<d { sum[j] += Double(row[j]) }
                            }
                        }
                    }
                }}
            }
        }}}}}}}}
        guard accumulate else { return }
        sums = [Double](repeating: 0, count: k * d)
        counts = [Double](repeating: 0, count: k)
        for t in 0..<threads {
            for c in 0..<k { counts[c] += partCounts[t][c] }
            for v in 0..<(k * d) { sums[v] += partSums[t][v] }
        }
    }

    /// Lloyd iterations from `centers` until the shift is at most `tolerance` or the labels
    /// stop changing — with Hamerly's bounds (Hamerly 2010): each sample keeps an upper bound
    /// on the distance to its centre and a lower bound on the distance to any other, moved by
    /// how far the centres move; a sample whose bounds prove its centre is still nearest is
    /// skipped, and the per-cluster sums change only by the samples that changed cluster.
    /// The labels and centres are Lloyd's.
    static func lloyd(_ shard: Shard, centers start: Matrix, norms: [Float], maxIter: Int, tolerance: Double) throws -> Result {
        let x = shard.local, n = x.rows, d = x.cols, k = start.rows
        var centers = start
        var labels = [Int](repeating: 0, count: n)
        var upper = [Float](repeating: 0, count: n), lower = [Float](repeating: 0, count: n)
        var sums = [Double](), counts = [Double]()
        // Σ‖x‖² over all ranks: the inertia of any labelling follows from its sums.
        var squares = [norms.reduce(0) { $0 + Double($1) }]
        try shard.sum(&squares)
        func assignAll() {
            assignAndSum(x, centers: centers, norms: norms, labels: &labels, distances: &upper, second: &lower,
                         sums: &sums, counts: &counts, accumulate: true)
            for i in 0..<n { upper[i] = upper[i].squareRoot(); lower[i] = lower[i].squareRoot() }
        }
        assignAll()
        var changed = Double(n)
        var history: [Double] = []
        var iterations = 0, converged = false
        for _ in 0..<maxIter {
            var stats = sums + counts + [changed]
            try shard.sum(&stats)
            var newSums = Array(stats[0..<(k * d)]), newCounts = Array(stats[(k * d)..<(k * d + k)])
            // Inertia of these labels about the centres they were assigned to.
            var inertia = squares[0]
            for c in 0..<k {
                var dot = 0.0, norm = 0.0
                for j in 0..<d { let v = Double(centers.values[c * d + j]); dot += v * newSums[c * d + j]; norm += v * v }
                inertia += newCounts[c] * norm - 2 * dot
            }
            history.append(max(inertia, 0))
            let empty = newCounts.contains(0)
            if empty {
                var exact = [Float](repeating: 0, count: n), none = [Float]()
                var ignored = [Double](), ignoredCounts = [Double]()
                assignAndSum(x, centers: centers, norms: norms, labels: &labels, distances: &exact, second: &none,
                             sums: &ignored, counts: &ignoredCounts, accumulate: false)
                try relocateEmpty(shard, sums: &newSums, counts: &newCounts, labels: labels, distances: exact)
            }
            var shift = 0.0
            var moved = [Float](repeating: 0, count: k)
            for c in 0..<k where newCounts[c] > 0 {
                var m = 0.0
                for j in 0..<d {
                    let v = Float(newSums[c * d + j] / newCounts[c])
                    let t = Double(v) - Double(centers.values[c * d + j])
                    m += t * t
                    centers.values[c * d + j] = v
                }
                shift += m
                moved[c] = Float(m.squareRoot())
            }
            iterations += 1
            if stats[k * d + k] == 0 { converged = true; break }  // the labels did not change: a fixed point
            if shift <= tolerance { converged = true; break }
            if empty {
                assignAll()  // a relocated centre invalidates the bounds
                changed = Double(n)
                continue
            }
            changed = Double(boundedStep(x, centers: centers, moved: moved, labels: &labels, upper: &upper, lower: &lower,
                                         sums: &sums, counts: &counts))
        }
        // Labels and inertia for the final centres (exact squared distances, in Double).
        var final = [Float](repeating: 0, count: n), none = [Float]()
        assignAndSum(x, centers: centers, norms: norms, labels: &labels, distances: &final, second: &none,
                     sums: &sums, counts: &counts, accumulate: false)
        var inertia = [0.0]
        x.values.withUnsafeBufferPointer { xv in
            centers.values.withUnsafeBufferPointer { cv in
                for i in 0..<n {
                    var s = 0.0
                    let row = xv.baseAddress! + i * d, c = cv.baseAddress! + labels[i] * d
                    for j in 0..<d { let t = Double(row[j]) - Double(c[j]); s += t * t }
                    inertia[0] += s
                }
            }
        }
        try shard.sum(&inertia)
        return Result(centers: centers, labels: labels, inertia: inertia[0], iterations: iterations, history: history,
                      bestRun: 0, runInertias: [], converged: converged)
    }

    /// One E-step with Hamerly's bounds after the centres moved by `moved`; updates the
    /// labels, bounds and this rank's sums and counts, returns how many samples changed cluster.
    static func boundedStep(_ x: Matrix, centers: Matrix, moved: [Float], labels: inout [Int], upper: inout [Float],
                            lower: inout [Float], sums: inout [Double], counts: inout [Double]) -> Int {
        let n = x.rows, d = x.cols, k = centers.rows
        // Half the distance from each centre to its nearest other centre.
        var half = [Float](repeating: .infinity, count: k)
        for a in 0..<k {
            for b in 0..<k where b != a {
                half[a] = min(half[a], distance(centers.values, a * d, centers.values, b * d, d) / 2)
            }
        }
        var largest = 0, secondLargest: Float = 0
        for c in 1..<max(k, 1) where moved[c] > moved[largest] { largest = c }
        for c in 0..<k where c != largest { secondLargest = max(secondLargest, moved[c]) }
        let threads = Parallel.threads
        var moves = [[(Int, Int, Int)]](repeating: [], count: threads)  // (sample, from, to)
        labels.withUnsafeMutableBufferPointer { lab in
        upper.withUnsafeMutableBufferPointer { up in
        lower.withUnsafeMutableBufferPointer { lo in
        moves.withUnsafeMutableBufferPointer { mv in
            let box = UncheckedSendable((lab, up, lo, mv))
            Parallel.forChunks(n, grain: 256) { thread, range in
                let (lab, up, lo, mv) = box.value
                for i in range {
                    let a = lab[i]
                    up[i] += moved[a]
                    lo[i] -= a == largest ? secondLargest : moved[largest]
                    let bound = max(half[a], lo[i])
                    if up[i] <= bound { continue }
                    up[i] = distance(x.values, i * d, centers.values, a * d, d)
                    if up[i] <= bound { continue }
                    var best = a, bestValue = up[i], secondValue = Float.infinity
                    for c in 0..<k where c != a {
                        let v = distance(x.values, i * d, centers.values, c * d, d)
                        if v < bestValue { secondValue = bestValue; bestValue = v; best = c }
                        else if v < secondValue { secondValue = v }
                    }
                    up[i] = bestValue
                    lo[i] = secondValue
                    if best != a {
                        lab[i] = best
                        mv[thread].append((i, a, best))
                    }
                }
            }
        }}}}
        var count = 0
        x.values.withUnsafeBufferPointer { xv in
            for part in moves {
                for (i, from, to) in part {
                    let row = xv.baseAddress! + i * d
                    for j in 0..<d { let v = Double(row[j]); sums[from * d + j] -= v; sums[to * d + j] += v }
                    counts[from] -= 1
                    counts[to] += 1
                }
                count += part.count
            }
        }
        return count
    }

    /// The Euclidean distance between rows of two row-major arrays, summed in SIMD lanes.
    @inline(__always)
    static func distance(_ a: [Float], _ aStart: Int, _ b: [Float], _ bStart: Int, _ d: Int) -> Float {
        a.withUnsafeBufferPointer { av in
            b.withUnsafeBufferPointer { bv in
                let p = av.baseAddress! + aStart, q = bv.baseAddress! + bStart
                var acc = SIMD16<Float>()
                var j = 0
                while j + 16 <= d {
                    let t = UnsafeRawPointer(p + j).loadUnaligned(as: SIMD16<Float>.self)
                        - UnsafeRawPointer(q + j).loadUnaligned(as: SIMD16<Float>.self)
                    acc += t * t
                    j += 16
                }
                var s = acc.sum()
                while j < d { let t = p[j] - q[j]; s += t * t; j += 1 }
                return s.squareRoot()
            }
        }
    }

    /// Gives each empty cluster the sample farthest from its centre (over all ranks), taking
    /// it out of its own cluster's sum, as scikit-learn does.
    static func relocateEmpty(_ shard: Shard, sums: inout [Double], counts: inout [Double], labels: [Int],
                              distances: [Float]) throws {
        let empty = counts.indices.filter { counts[$0] == 0 }
        guard !empty.isEmpty else { return }
        let x = shard.local, d = x.cols
        // Every rank offers its farthest samples; all take the same global choice.
        let offered = distances.indices.sorted { distances[$0] > distances[$1] || (distances[$0] == distances[$1] && $0 < $1) }
            .prefix(empty.count)
        var table = [Float]()
        for i in offered { table += [distances[i], Float(shard.offset + i)] }
        while table.count < 2 * empty.count { table += [-1, -1] }
        let all = try shard.gather(table)
        var candidates: [(Float, Int)] = []
        for p in stride(from: 0, to: all.count, by: 2) where all[p + 1] >= 0 { candidates.append((all[p], Int(all[p + 1]))) }
        candidates.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        for (c, (_, g)) in zip(empty, candidates) {
            let v = try sample(shard, g)
            var from = [0.0]
            let local = g - shard.offset
            if local >= 0 && local < x.rows { from[0] = Double(labels[local]) }
            try shard.sum(&from)
            let old = Int(from[0])
            for j in 0..<d { sums[old * d + j] -= v[j]; sums[c * d + j] = v[j] }
            counts[old] -= 1
            counts[c] = 1
        }
    }
}

extension RNG {
    /// A uniform Double in [0, 1) from 53 random bits.
    mutating func nextFloat64() -> Double { Double(next() >> 11) * 0x1p-53 }
}
