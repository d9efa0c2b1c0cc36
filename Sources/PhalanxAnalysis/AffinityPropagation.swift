// Affinity propagation (Frey & Dueck 2007, "Clustering by passing messages between data
// points"), as scikit-learn's `AffinityPropagation` with affinity="euclidean":
// similarities s(i,k) = −‖xᵢ − xₖ‖², preferences s(k,k) (the median similarity by default),
// then damped responsibility and availability messages
//   r(i,k) ← s(i,k) − max_{k′≠k} [a(i,k′) + s(i,k′)]
//   a(i,k) ← min(0, r(k,k) + Σ_{i′∉{i,k}} max(0, r(i′,k))),  a(k,k) ← Σ_{i′≠k} max(0, r(i′,k))
// until the set of exemplars (a(k,k) + r(k,k) > 0) has not changed for `convergenceIter`
// iterations. Responsibilities and availabilities are updated row-parallel; the column sums
// of the availability step column-parallel. Then scikit-learn's refinement: each cluster's
// exemplar becomes the member of largest summed similarity to the others.
// Three N×N Double matrices (S, R, A), hence `maxPoints`. Leaves out: precomputed affinities.
import CBLAS
import Foundation
import PhalanxCore

/// Affinity propagation clustering: exemplars chosen among the samples by message passing;
/// the number of clusters follows from the preference rather than being given.
///
/// Options: `damping` in [0.5, 1) (0.5), `maxIter` (200), `convergenceIter` (15), `preference`
/// (the median similarity, or a number: lower gives fewer clusters), `maxPoints` (5 000: three
/// N×N Double matrices take 24·N² bytes), `seed` (the tiny noise scikit-learn adds to S to
/// break ties).
public enum AffinityPropagation {
    /// The self-similarity s(k,k) every sample gets.
    public enum Preference: Sendable, Equatable {
        /// The median of all similarities (scikit-learn's default).
        case median
        case value(Double)
    }

    public struct Options: Sendable {
        /// `--damping`: message ← damping·old + (1 − damping)·new.
        public var damping: Double = 0.5
        /// `--max-iter`.
        public var maxIter: Int = 200
        /// Iterations the exemplars must stay unchanged to stop.
        public var convergenceIter: Int = 15
        /// `--preference`.
        public var preference: Preference = .median
        /// `--max-points`: the most samples accepted (24·N² bytes).
        public var maxPoints: Int = 5_000
        /// `--seed`.
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable {
        /// Row indices of the exemplars, ascending (scikit-learn's `cluster_centers_indices_`);
        /// empty when no exemplar emerged.
        public var exemplars: [Int]
        /// The exemplar samples, `clusters × d`.
        public var centers: Matrix
        /// Cluster of each sample (an index into `exemplars`), or −1 for all when there is no
        /// exemplar (as scikit-learn).
        public var labels: [Int]
        public var iterations: Int
        /// False when `maxIter` ran out before the exemplars settled; the labels are then those
        /// of the last iteration's exemplars (scikit-learn warns and does the same).
        public var converged: Bool
        /// The preference used.
        public var preference: Double

        /// The cluster of each new sample: its nearest exemplar (−1 without exemplars).
        public func predict(_ x: Matrix) throws(AnalysisError) -> [Int] {
            try x.validate(method: "affinity propagation prediction")
            guard x.cols == centers.cols else {
                throw .input("affinity propagation was fitted on \(centers.cols) features; these samples have \(x.cols)")
            }
            if exemplars.isEmpty { return [Int](repeating: -1, count: x.rows) }
            return Neighbors.nearestCenter(of: x, among: centers)
        }
    }

    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        try x.validate(method: "affinity propagation")
        let n = x.rows
        guard options.damping >= 0.5, options.damping < 1 else {
            throw .option("--damping", "must be in [0.5, 1), got \(options.damping)")
        }
        guard options.maxIter >= 1 else { throw .option("--max-iter", "must be at least 1, got \(options.maxIter)") }
        guard options.convergenceIter >= 1 else { throw .input("convergence_iter must be at least 1, got \(options.convergenceIter)") }
        if case .value(let p) = options.preference, !p.isFinite { throw .option("--preference", "must be finite, got \(p)") }
        guard n <= options.maxPoints else {
            let gib = Double(n) * Double(n) * 24 / Double(1 << 30)
            throw .option("--max-points", "affinity propagation keeps three \(n)×\(n) Double matrices, "
                + "\(String(format: "%.2f", gib)) GiB (24·N² bytes); the limit is \(options.maxPoints) samples")
        }
        var s = negativeSquaredDistances(x)
        var a = [Double](repeating: 0, count: n * n)
        let preference: Double
        switch options.preference {
        case .median: preference = median(s, n: n, scratch: &a)
        case .value(let p): preference = p
        }

        // scikit-learn's degenerate case: one sample, or all similarities equal.
        let offDiagonal = n > 1 ? s[1] : 0
        var allEqual = true
        for i in 0..<n where allEqual { for j in 0..<n where j != i && s[i * n + j] != offDiagonal { allEqual = false; break } }
        if n == 1 || allEqual {
            let own = preference > offDiagonal
            let exemplars = own ? Array(0..<n) : [0]
            return Result(exemplars: exemplars, centers: x.selecting(rows: exemplars),
                          labels: own ? Array(0..<n) : [Int](repeating: 0, count: n),
                          iterations: 0, converged: true, preference: preference)
        }

        for i in 0..<n { s[i * n + i] = preference }
        addTieBreakingNoise(&s, n: n, seed: options.seed)
        var r = [Double](repeating: 0, count: n * n)
        let (exemplarMask, iterations, converged) = passMessages(s, &r, &a, n: n, options)
        let (exemplars, labels) = refine(s, n: n, exemplarMask)
        return Result(exemplars: exemplars, centers: x.selecting(rows: exemplars), labels: labels,
                      iterations: iterations, converged: converged, preference: preference)
    }

    /// −‖xᵢ − xⱼ‖², `n × n`, through dgemm by row blocks; exactly symmetric, zero diagonal.
    static func negativeSquaredDistances(_ x: Matrix) -> [Double] {
        let n = x.rows, d = x.cols
        let xd = x.doubles
        var norms = [Double](repeating: 0, count: n)
        for i in 0..<n { var t = 0.0; for f in 0..<d { t += xd[i * d + f] * xd[i * d + f] }; norms[i] = t }
        var s = [Double](repeating: 0, count: n * n)
        xd.withUnsafeBufferPointer { xp in
        s.withUnsafeMutableBufferPointer { sp in
            // The upper triangle of −2XXᵀ; the lower is mirrored below.
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(n), Int32(d), -2,
                        xp.baseAddress!, Int32(d), 0, sp.baseAddress!, Int32(n))
            let box = UncheckedSendable(sp)
            Parallel.forEach(n, grain: 16) { rows in
                let sp = box.value
                for i in rows { for j in i..<n { sp[i * n + j] = -max(sp[i * n + j] + norms[i] + norms[j], 0) } }
            }
        }}
        // Mirror by tiles, to stay in cache.
        let tile = 64
        for bi in stride(from: 0, to: n, by: tile) {
            for bj in stride(from: bi, to: n, by: tile) {
                for i in bi..<min(bi + tile, n) {
                    let from = max(bj, i + 1), to = min(bj + tile, n)
                    if from < to { for j in from..<to { s[j * n + i] = s[i * n + j] } }
                }
            }
        }
        for i in 0..<n { s[i * n + i] = 0 }
        return s
    }

    /// The median of all n² entries of the symmetric `s` (diagonal zeros included, as
    /// `np.median(S)`), selected among the n(n−1)/2 off-diagonal pairs in `scratch`.
    static func median(_ s: [Double], n: Int, scratch: inout [Double]) -> Double {
        let pairs = n * (n - 1) / 2
        if pairs == 0 { return 0 }
        var t = 0
        for i in 0..<n { for j in (i + 1)..<n { scratch[t] = s[i * n + j]; t += 1 } }
        // Sorted, the n² entries are each off-diagonal value twice, then the n zeros
        // (similarities are ≤ 0).
        let total = n * n
        let lower = (total - 1) / 2, upper = total / 2
        let value: Double = scratch.withUnsafeMutableBufferPointer { p in
            func entry(_ index: Int) -> Double {
                index < 2 * pairs ? select(p.baseAddress!, count: pairs, rank: index / 2) : 0
            }
            return (entry(lower) + entry(upper)) / 2
        }
        for i in 0..<scratch.count { scratch[i] = 0 }
        return value
    }

    /// The element of rank `rank` (0-based, ascending) of `v[0..<count]`, reordering `v`
    /// (quickselect, median-of-three pivots).
    static func select(_ v: UnsafeMutablePointer<Double>, count: Int, rank: Int) -> Double {
        var lo = 0, hi = count - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if v[mid] < v[lo] { swap(&v[mid], &v[lo]) }
            if v[hi] < v[lo] { swap(&v[hi], &v[lo]) }
            if v[hi] < v[mid] { swap(&v[hi], &v[mid]) }
            let pivot = v[mid]
            var i = lo, j = hi
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j { swap(&v[i], &v[j]); i += 1; j -= 1 }
            }
            if rank <= j { hi = j } else if rank >= i { lo = i } else { return v[rank] }
        }
        return v[lo]
    }

    /// s += (ε·s + 100·tiny)·N(0, 1), as scikit-learn, one random stream per row.
    static func addTieBreakingNoise(_ s: inout [Double], n: Int, seed: UInt64) {
        s.withUnsafeMutableBufferPointer { sp in
            let box = UncheckedSendable(sp)
            Parallel.forEach(n, grain: 16) { rows in
                let sp = box.value
                for i in rows {
                    var rng = RNG(seed: seed, stream: UInt64(i))
                    for j in 0..<n {
                        let v = sp[i * n + j]
                        sp[i * n + j] = v + (Double.ulpOfOne * v + Double.leastNormalMagnitude * 100) * Double(rng.normal())
                    }
                }
            }
        }
    }

    /// The damped message passing; returns the final exemplar mask, iterations, converged.
    static func passMessages(_ s: [Double], _ r: inout [Double], _ a: inout [Double], n: Int,
                             _ options: Options) -> ([Bool], Int, Bool) {
        let damping = options.damping, keep = 1 - damping, window = options.convergenceIter
        var history = [UInt8](repeating: 0, count: n * window), stable = [Int](repeating: 0, count: n)
        var exemplar = [Bool](repeating: false, count: n)
        var columnSums = [Double](repeating: 0, count: n)
        var iterations = options.maxIter, converged = false
        s.withUnsafeBufferPointer { sb in
        r.withUnsafeMutableBufferPointer { rb in
        a.withUnsafeMutableBufferPointer { ab in
        columnSums.withUnsafeMutableBufferPointer { cb in
            let box = UncheckedSendable((sb, rb, ab, cb))
            for iteration in 0..<options.maxIter {
                // Responsibilities, row by row: the best and second-best a + s of the row.
                Parallel.forEach(n, grain: 8) { rows in
                    let (s, r, a, _) = box.value
                    for i in rows {
                        let si = s.baseAddress! + i * n, ai = a.baseAddress! + i * n, ri = r.baseAddress! + i * n
                        let first = largestSum(ai, si, 0, n)
                        var at = 0
                        while ai[at] + si[at] != first { at += 1 }
                        let second = max(largestSum(ai, si, 0, at), largestSum(ai, si, at + 1, n))
                        let previous = ri[at]
                        for k in 0..<n { ri[k] = damping * ri[k] + keep * (si[k] - first) }
                        ri[at] = damping * previous + keep * (si[at] - second)
                    }
                }
                // Column sums of max(r, 0), with r(k,k) itself on the diagonal.
                Parallel.forEach(n, grain: 64) { columns in
                    let (_, r, _, c) = box.value
                    let lo = columns.lowerBound, width = columns.count
                    let cp = c.baseAddress! + lo
                    cp.update(repeating: 0, count: width)
                    for i in 0..<n {
                        let ri = r.baseAddress! + i * n + lo
                        for k in 0..<width { cp[k] += max(ri[k], 0) }
                    }
                    for k in columns { let rkk = r[k * n + k]; c[k] += rkk - max(rkk, 0) }
                }
                // Availabilities, row by row.
                Parallel.forEach(n, grain: 8) { rows in
                    let (_, r, a, c) = box.value
                    let cp = c.baseAddress!
                    for i in rows {
                        let ri = r.baseAddress! + i * n, ai = a.baseAddress! + i * n
                        let diagonal = damping * ai[i] + keep * (cp[i] - ri[i])
                        for k in 0..<n { ai[k] = damping * ai[k] + keep * min(cp[k] - max(ri[k], 0), 0) }
                        ai[i] = diagonal
                    }
                }
                // Exemplars now, and whether each has kept its state over the window.
                let slot = iteration % window
                var count = 0, settled = true
                for k in 0..<n {
                    let e: UInt8 = ab[k * n + k] + rb[k * n + k] > 0 ? 1 : 0
                    exemplar[k] = e == 1
                    count += Int(e)
                    stable[k] += Int(e) - Int(history[k * window + slot])
                    history[k * window + slot] = e
                    if stable[k] != 0 && stable[k] != window { settled = false }
                }
                if iteration >= window && settled && count > 0 {
                    iterations = iteration + 1
                    converged = true
                    break
                }
            }
        }}}}
        return (exemplar, iterations, converged)
    }

    /// max over k in lo..<hi of a[k] + s[k] (−∞ for an empty range), four lanes at a time.
    @inline(__always)
    static func largestSum(_ a: UnsafeMutablePointer<Double>, _ s: UnsafePointer<Double>, _ lo: Int, _ hi: Int) -> Double {
        var k = lo
        var lanes = SIMD4<Double>(repeating: -.infinity), lanes2 = lanes
        while k + 8 <= hi {
            let a0 = UnsafeRawPointer(a + k).loadUnaligned(as: SIMD4<Double>.self)
            let s0 = UnsafeRawPointer(s + k).loadUnaligned(as: SIMD4<Double>.self)
            let a1 = UnsafeRawPointer(a + k + 4).loadUnaligned(as: SIMD4<Double>.self)
            let s1 = UnsafeRawPointer(s + k + 4).loadUnaligned(as: SIMD4<Double>.self)
            lanes = pointwiseMax(lanes, a0 + s0)
            lanes2 = pointwiseMax(lanes2, a1 + s1)
            k += 8
        }
        var best = pointwiseMax(lanes, lanes2).max()
        while k < hi { best = max(best, a[k] + s[k]); k += 1 }
        return best
    }

    /// scikit-learn's post-processing: assign each sample to its most similar exemplar,
    /// move each cluster's exemplar to the member of largest summed similarity within the
    /// cluster, assign again; exemplars ascending, labels gapless.
    static func refine(_ s: [Double], n: Int, _ mask: [Bool]) -> ([Int], [Int]) {
        var centers = (0..<n).filter { mask[$0] }
        if centers.isEmpty { return ([], [Int](repeating: -1, count: n)) }
        func nearest() -> [Int] {
            var c = [Int](repeating: 0, count: n)
            for i in 0..<n {
                var best = 0
                for k in 1..<centers.count where s[i * n + centers[k]] > s[i * n + centers[best]] { best = k }
                c[i] = best
            }
            for (k, e) in centers.enumerated() { c[e] = k }
            return c
        }
        let assignment = nearest()
        var members = [[Int]](repeating: [], count: centers.count)
        for i in 0..<n { members[assignment[i]].append(i) }
        for k in 0..<centers.count {
            let group = members[k]
            var best = 0, bestSum = -Double.infinity
            for (b, column) in group.enumerated() {
                var t = 0.0
                for row in group { t += s[row * n + column] }
                if t > bestSum { bestSum = t; best = b }
            }
            centers[k] = group[best]
        }
        let final = nearest()
        let chosen = final.map { centers[$0] }
        let exemplars = Array(Set(chosen)).sorted()
        var position = [Int: Int]()
        for (p, e) in exemplars.enumerated() { position[e] = p }
        return (exemplars, chosen.map { position[$0]! })
    }
}
