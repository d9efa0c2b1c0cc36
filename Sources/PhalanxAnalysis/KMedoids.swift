// k-medoids clustering on Euclidean distances, as scikit-learn-extra's `KMedoids`:
// - "alternate" (Park & Jun 2009): assign every point to its nearest medoid, then make each
//   cluster's medoid the member with the least summed distance to the others; repeat.
// - "pam" (Kaufman & Rousseeuw 1990, BUILD + SWAP): each iteration applies the single swap
//   (medoid i ↔ non-medoid h) that lowers the total distance most. The cost changes of all
//   k·(N−k) swaps are found in O(N²) per iteration with FastPAM1's sharing (Schubert &
//   Rousseeuw 2019), which chooses the same swap as PAM's O(k·N²) loop.
// Both keep the full N×N distance matrix (Float; distances computed in Double), hence
// `maxPoints`. Leaves out: other metrics, CLARA, FasterPAM's eager swaps.
import CBLAS
import Foundation
import PhalanxCore

/// k-medoids: k clusters, each represented by one of its own samples (the medoid), that
/// minimise the sum of distances to the nearest medoid — robust to outliers where the
/// means of k-means are not (scikit-learn-extra's `KMedoids`, Euclidean metric).
///
/// Options: `clusters` (8), `method` alternate | pam, `initialization` build | k-medoids++ |
/// random | heuristic, `maxIter` (300), `maxPoints` (10 000: the N×N Float distance matrix
/// takes 4·N² bytes), `seed` (k-medoids++ and random). scikit-learn-extra defaults to the
/// "heuristic" start (the k points of least summed distance, often all in one cluster);
/// here the default is PAM's BUILD.
public enum KMedoids {
    public enum Method: String, Sendable, CaseIterable {
        /// Voronoi iteration: assign, then re-centre each cluster on its best member.
        case alternate
        /// Partitioning around medoids: the best single swap per iteration.
        case pam
    }

    public enum Initialization: String, Sendable, CaseIterable {
        /// PAM's greedy BUILD: the most central point, then each point that lowers the total most.
        case build
        /// k-means++ seeding on squared distances, with 2 + ⌊ln k⌋ local trials.
        case kMedoidsPlusPlus = "k-medoids++"
        /// k distinct samples at random.
        case random
        /// The k samples of least summed distance to all others (scikit-learn-extra's default).
        case heuristic
    }

    public struct Options: Sendable {
        /// `--clusters`.
        public var clusters: Int = 8
        /// `--kmedoids-method`.
        public var method: Method = .alternate
        /// `--init`.
        public var initialization: Initialization = .build
        /// `--max-iter`.
        public var maxIter: Int = 300
        /// `--max-points`: the most samples accepted (4·N² bytes of distances).
        public var maxPoints: Int = 10_000
        /// `--seed`.
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable {
        /// Row indices of the medoids, one per cluster.
        public var medoids: [Int]
        /// The medoid samples, `k × d`.
        public var centers: Matrix
        /// Cluster of each sample (its nearest medoid; ties to the lower cluster).
        public var labels: [Int]
        /// Sum of the distances of the samples to their medoids.
        public var inertia: Double
        public var iterations: Int
        /// Whether the medoids stopped changing before `maxIter`.
        public var converged: Bool

        /// The cluster of each new sample: its nearest medoid.
        public func predict(_ x: Matrix) throws(AnalysisError) -> [Int] {
            try x.validate(method: "k-medoids prediction")
            guard x.cols == centers.cols else {
                throw .input("k-medoids was fitted on \(centers.cols) features; these samples have \(x.cols)")
            }
            return Neighbors.nearestCenter(of: x, among: centers)
        }
    }

    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        try x.validate(method: "k-medoids")
        let n = x.rows, k = options.clusters
        guard k >= 1, k <= n else { throw .option("--clusters", "\(k) medoids need 1 ≤ k ≤ \(n), the number of samples") }
        guard options.maxIter >= 0 else { throw .option("--max-iter", "must be ≥ 0, got \(options.maxIter)") }
        guard n <= options.maxPoints else {
            let gib = Double(n) * Double(n) * 4 / Double(1 << 30)
            throw .option("--max-points", "k-medoids keeps the \(n)×\(n) distance matrix, "
                + "\(String(format: "%.2f", gib)) GiB (4·N² bytes); the limit is \(options.maxPoints) samples")
        }
        let distances = pairwiseDistances(x)
        var rng = RNG(seed: options.seed, stream: 0)
        var medoids = initialMedoids(distances, n: n, k: k, options.initialization, &rng)
        var iterations = 0, converged = options.maxIter == 0
        distances.withUnsafeBufferPointer { dp in
            let d = dp.baseAddress!
            for iteration in 0..<options.maxIter {
                iterations = iteration + 1
                let changed = options.method == .alternate
                    ? alternateStep(d, n: n, &medoids)
                    : swapStep(d, n: n, &medoids)
                if !changed { converged = true; break }
            }
        }
        let (labels, inertia) = assign(distances, n: n, medoids)
        return Result(medoids: medoids, centers: x.selecting(rows: medoids), labels: labels, inertia: inertia,
                      iterations: iterations, converged: converged)
    }

    /// Nearest medoid of every sample and the summed distance.
    static func assign(_ distances: [Float], n: Int, _ medoids: [Int]) -> ([Int], Double) {
        var labels = [Int](repeating: 0, count: n), inertia = 0.0
        for j in 0..<n {
            var best = 0, bestDistance = Float.infinity
            for (c, m) in medoids.enumerated() where distances[m * n + j] < bestDistance {
                bestDistance = distances[m * n + j]; best = c
            }
            labels[j] = best
            inertia += Double(bestDistance)
        }
        return (labels, inertia)
    }

    /// Euclidean distances, `n × n` Floats: ‖xᵢ‖² + ‖xⱼ‖² − 2xᵢ·xⱼ in Double, by blocks of
    /// rows against the columns from the block on (the upper triangle), then mirrored.
    static func pairwiseDistances(_ x: Matrix) -> [Float] {
        let n = x.rows, d = x.cols
        let xd = x.doubles
        var norms = [Double](repeating: 0, count: n)
        for i in 0..<n { var s = 0.0; for f in 0..<d { s += xd[i * d + f] * xd[i * d + f] }; norms[i] = s }
        var out = [Float](repeating: 0, count: n * n)
        let block = 64, blocks = (n + block - 1) / block
        let workers = min(Parallel.threads, blocks)
        xd.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { op in
            let box = UncheckedSendable((xp, op))
            // Worker w takes blocks w, w + workers, …: the triangle's rows shrink, so this balances.
            Parallel.forEach(workers) { range in
                let (xp, op) = box.value
                var gram = [Double](repeating: 0, count: min(block, n) * n)
                for w in range {
                    for b in stride(from: w, to: blocks, by: workers) {
                        let lo = b * block, rows = min(block, n - lo), width = n - lo
                        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(width), Int32(d), 1,
                                    xp.baseAddress! + lo * d, Int32(d), xp.baseAddress! + lo * d, Int32(d), 0,
                                    &gram, Int32(width))
                        for r in 0..<rows {
                            let i = lo + r
                            op[i * n + i] = 0
                            for j in (i + 1)..<max(i + 1, n) {
                                op[i * n + j] = Float(max(norms[i] + norms[j] - 2 * gram[r * width + j - lo], 0).squareRoot())
                            }
                        }
                    }
                }
            }
        }}
        // Mirror by tiles, to stay in cache.
        let tile = 64
        for bi in stride(from: 0, to: n, by: tile) {
            for bj in stride(from: bi, to: n, by: tile) {
                for i in bi..<min(bi + tile, n) {
                    let from = max(bj, i + 1), to = min(bj + tile, n)
                    if from < to { for j in from..<to { out[j * n + i] = out[i * n + j] } }
                }
            }
        }
        return out
    }

    static func initialMedoids(_ distances: [Float], n: Int, k: Int, _ initialization: Initialization,
                               _ rng: inout RNG) -> [Int] {
        switch initialization {
        case .random:
            return Array(rng.permutation(n).prefix(k))
        case .heuristic:
            let sums = rowSums(distances, n: n)
            return Array((0..<n).sorted { sums[$0] < sums[$1] || (sums[$0] == sums[$1] && $0 < $1) }.prefix(k))
        case .build:
            return build(distances, n: n, k: k)
        case .kMedoidsPlusPlus:
            var medoids = [rng.int(below: n)]
            var closest = (0..<n).map { Double(distances[medoids[0] * n + $0]) * Double(distances[medoids[0] * n + $0]) }
            var potential = closest.reduce(0, +)
            let trials = 2 + Int(log(Double(k)))
            var cumulative = [Double](repeating: 0, count: n), candidate = [Double](repeating: 0, count: n)
            for _ in 1..<max(k, 1) {
                var s = 0.0
                for j in 0..<n { s += closest[j]; cumulative[j] = s }
                var bestPotential = Double.infinity, best = 0, bestClosest = closest
                for _ in 0..<trials {
                    let target = Double(rng.nextFloat()) * potential
                    // The first index whose cumulative sum reaches the target.
                    var lo = 0, hi = n - 1
                    while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] < target { lo = mid + 1 } else { hi = mid } }
                    var p = 0.0
                    for j in 0..<n {
                        let dd = Double(distances[lo * n + j])
                        candidate[j] = min(closest[j], dd * dd)
                        p += candidate[j]
                    }
                    if p < bestPotential { bestPotential = p; best = lo; bestClosest = candidate }
                }
                medoids.append(best)
                closest = bestClosest
                potential = bestPotential
            }
            return medoids
        }
    }

    private static func rowSums(_ distances: [Float], n: Int) -> [Double] {
        (0..<n).map { i in var s = 0.0; for j in 0..<n { s += Double(distances[i * n + j]) }; return s }
    }

    /// BUILD: the point of least summed distance, then k − 1 times the non-medoid whose
    /// addition lowers the total most (ties to the later point, as scikit-learn-extra).
    static func build(_ distances: [Float], n: Int, k: Int) -> [Int] {
        let sums = rowSums(distances, n: n)
        var first = 0
        for i in 1..<max(n, 1) where sums[i] < sums[first] { first = i }
        var medoids = [first], isMedoid = [Bool](repeating: false, count: n)
        isMedoid[first] = true
        var nearest = (0..<n).map { distances[first * n + $0] }
        let threads = Parallel.threads
        var bestGain = [Double](repeating: -1, count: threads), bestIndex = [Int](repeating: -1, count: threads)
        while medoids.count < k {
            for t in 0..<threads { bestGain[t] = -1; bestIndex[t] = -1 }
            distances.withUnsafeBufferPointer { dp in
            nearest.withUnsafeBufferPointer { np in
            isMedoid.withUnsafeBufferPointer { mp in
            bestGain.withUnsafeMutableBufferPointer { gp in
            bestIndex.withUnsafeMutableBufferPointer { ip in
                let box = UncheckedSendable((dp, np, mp, gp, ip))
                Parallel.forChunks(n) { chunk, range in
                    let (dp, np, mp, gp, ip) = box.value
                    for c in range where !mp[c] {
                        let row = dp.baseAddress! + c * n
                        var gain = 0.0
                        for j in 0..<n where !mp[j] { gain += Double(max(np[j] - row[j], 0)) }
                        if gain >= gp[chunk] { gp[chunk] = gain; ip[chunk] = c }
                    }
                }
            }}}}}
            var chosen = -1, gain = -1.0
            for t in 0..<threads where bestIndex[t] >= 0 && bestGain[t] >= gain { gain = bestGain[t]; chosen = bestIndex[t] }
            medoids.append(chosen)
            isMedoid[chosen] = true
            for j in 0..<n { nearest[j] = min(nearest[j], distances[chosen * n + j]) }
        }
        return medoids
    }

    /// One "alternate" step; returns whether a medoid moved.
    static func alternateStep(_ d: UnsafePointer<Float>, n: Int, _ medoids: inout [Int]) -> Bool {
        let k = medoids.count
        var members = [[Int]](repeating: [], count: k)
        for j in 0..<n {
            var best = 0, bestDistance = Float.infinity
            for (c, m) in medoids.enumerated() where d[m * n + j] < bestDistance { bestDistance = d[m * n + j]; best = c }
            members[best].append(j)
        }
        var changed = false
        for c in 0..<k where !members[c].isEmpty {
            let group = members[c]
            var costs = [Double](repeating: 0, count: group.count)
            group.withUnsafeBufferPointer { gp in
            costs.withUnsafeMutableBufferPointer { cp in
                let box = UncheckedSendable((gp, cp))
                Parallel.forEach(group.count, grain: 16) { range in
                    let (gp, cp) = box.value
                    for a in range {
                        let row = d + gp[a] * n
                        var s = 0.0
                        for b in 0..<gp.count { s += Double(row[gp[b]]) }
                        cp[a] = s
                    }
                }
            }}
            var best = 0
            for a in 1..<max(group.count, 1) where costs[a] < costs[best] { best = a }
            let current = group.firstIndex(of: medoids[c]).map { costs[$0] } ?? .infinity
            if costs[best] < current { medoids[c] = group[best]; changed = true }
        }
        return changed
    }

    /// One PAM SWAP: the (medoid, non-medoid) exchange of most negative cost change, applied
    /// if it lowers the total; returns whether it was.
    static func swapStep(_ d: UnsafePointer<Float>, n: Int, _ medoids: inout [Int]) -> Bool {
        let k = medoids.count
        // Distance to the nearest medoid, which one, and to the second nearest.
        var nearest = [Float](repeating: .infinity, count: n), second = [Float](repeating: .infinity, count: n)
        var owner = [Int](repeating: 0, count: n), isMedoid = [Bool](repeating: false, count: n)
        for m in medoids { isMedoid[m] = true }
        var total = 0.0
        for j in 0..<n {
            for (c, m) in medoids.enumerated() {
                let v = d[m * n + j]
                if v < nearest[j] { second[j] = nearest[j]; nearest[j] = v; owner[j] = c } else if v < second[j] { second[j] = v }
            }
            total += Double(nearest[j])
        }
        let threads = Parallel.threads
        var bestCost = [Double](repeating: 0, count: threads), bestPair = [(Int, Int)](repeating: (-1, -1), count: threads)
        nearest.withUnsafeBufferPointer { np in
        second.withUnsafeBufferPointer { sp in
        owner.withUnsafeBufferPointer { op in
        isMedoid.withUnsafeBufferPointer { mp in
        bestCost.withUnsafeMutableBufferPointer { bc in
        bestPair.withUnsafeMutableBufferPointer { bp in
            let box = UncheckedSendable((np, sp, op, mp, bc, bp))
            Parallel.forChunks(n) { chunk, range in
                let (np, sp, op, mp, bc, bp) = box.value
                var delta = [Double](repeating: 0, count: k)
                for h in range where !mp[h] {
                    // T(i, h) = shared + delta[i]: points closer to h than to their medoid gain
                    // whatever is removed; the others lose only if their own medoid goes.
                    let row = d + h * n
                    var shared = 0.0
                    for c in 0..<k { delta[c] = 0 }
                    for j in 0..<n {
                        let v = row[j]
                        if v < np[j] { shared += Double(v - np[j]) } else { delta[op[j]] += Double(min(v, sp[j]) - np[j]) }
                    }
                    for c in 0..<k where shared + delta[c] < bc[chunk] { bc[chunk] = shared + delta[c]; bp[chunk] = (c, h) }
                }
            }
        }}}}}}
        var best = 0.0, pair = (-1, -1)
        for t in 0..<threads where bestPair[t].0 >= 0 && bestCost[t] < best { best = bestCost[t]; pair = bestPair[t] }
        // A decrease lost in rounding is no decrease: stop rather than cycle.
        guard pair.0 >= 0, best < -1e-12 * max(total, .leastNormalMagnitude) else { return false }
        medoids[pair.0] = pair.1
        return true
    }
}
