// ISOMAP as scikit-learn's Isomap(n_neighbors=5, n_components=2): the k-nearest-neighbour
// graph (an edge where either point is among the other's k nearest, weighted by the
// Euclidean distance), components joined by their closest pair of points as scikit-learn's
// _fix_connected_components does, geodesic distances D by Dijkstra from every node (binary
// heap, sources in parallel), then kernel PCA of K = −½·H·D²·H (double centring): the
// embedding is the top eigenvectors times √eigenvalue. Memory: one n×n matrix of Doubles.
// Leaves out: transform of new points, radius graphs, metrics other than Euclidean.
import PhalanxCore

/// ISOMAP (Tenenbaum, de Silva & Langford, "A global geometric framework for nonlinear
/// dimensionality reduction", Science 2000): classical MDS of graph geodesic distances.
///
/// Options: `neighbors` (k of the graph, `--neighbors`, 5), `components` (output dimension,
/// `--components`, 2), `maxPoints` (refuses larger inputs, the n×n Doubles it would hold;
/// `--max-points`, 10 000), `tolerance` (relative eigen-residual of the block Lanczos solver,
/// `--tol`, 1e-10) and `seed` (its random start, `--seed`).
public enum Isomap {
    public struct Options: Sendable {
        /// k of the k-nearest-neighbour graph (`--neighbors`).
        public var neighbors = 5
        /// Output dimensions (`--components`).
        public var components = 2
        /// The most samples accepted: memory is 8·n² bytes (`--max-points`).
        public var maxPoints = 10_000
        /// Relative residual ‖K·v − λ·v‖ ≤ tolerance·λ of the eigenvectors (`--tol`).
        public var tolerance = 1e-10
        /// Seed of the eigensolver's starting block (`--seed`).
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable {
        /// `n × components`: eigenvectors of the centred kernel scaled by √eigenvalue, each
        /// column's sign chosen so that its largest-magnitude entry is positive (svd_flip).
        public var embedding: Matrix
        /// The kernel's top eigenvalues (scikit-learn's kernel_pca_.eigenvalues_), negatives set to 0.
        public var eigenvalues: [Double]
        /// √(‖K‖²_F − Σλ²)/n, as scikit-learn's reconstruction_error().
        public var reconstructionError: Double
        /// Connected components of the k-NN graph before they were joined (1: none joined).
        public var graphComponents: Int
        /// Undirected edges of the final graph.
        public var edges: Int
        /// Block Lanczos cycles and matrix products (0 where the dense solver ran).
        public var eigenCycles: Int
        public var eigenProducts: Int
    }

    /// The bytes of the n×n geodesic/kernel matrix.
    public static func memory(samples n: Int) -> Int { 8 * n * n }

    public static func fit(_ x: Matrix, _ options: Options) throws(AnalysisError) -> Result {
        try x.validate(minimumRows: 2, method: "ISOMAP")
        let n = x.rows
        guard options.components >= 1, options.components <= n else {
            throw .option("--components", "\(options.components) components of \(n) samples; need 1...\(n)")
        }
        guard options.neighbors >= 1, options.neighbors < n else {
            throw .option("--neighbors", "\(options.neighbors) neighbours of \(n) samples; need 1...\(n - 1)")
        }
        guard n <= options.maxPoints else {
            throw .option("--max-points", "ISOMAP holds an n×n matrix of Doubles: \(n) samples need "
                          + "\(formatBytes(memory(samples: n))), over --max-points \(options.maxPoints); "
                          + "raise --max-points or subsample")
        }
        guard options.tolerance > 0, options.tolerance.isFinite else {
            throw .option("--tol", "must be a positive number, got \(options.tolerance)")
        }
        let knn = try Neighbors.nearest(x, k: options.neighbors)
        var graph = WeightedGraph(knn)
        let labels = graph.componentLabels()
        let componentCount = (labels.max() ?? -1) + 1
        if componentCount > 1 { graph.connect(components: labels, count: componentCount, points: x) }

        // D (geodesic) → −½·D², symmetrised, double-centred, all in one n×n buffer.
        var k = [Double](repeating: 0, count: n * n)
        k.withUnsafeMutableBufferPointer { kp in graph.allShortestPaths(into: kp.baseAddress!) }
        let sumSquares = centreKernel(&k, n: n)
        let top = try TopEigen.largest(k, n: n, count: options.components, tolerance: options.tolerance,
                                       seed: options.seed)
        let c = options.components
        var embedding = Matrix(rows: n, cols: c)
        var eigenvalues = [Double]()
        for j in 0..<c {
            let lambda = max(top.values[j], 0)
            eigenvalues.append(lambda)
            let v = top.vectors[(j * n)..<((j + 1) * n)]
            var big = v.startIndex
            for i in v.indices where abs(v[i]) > abs(v[big]) { big = i }
            let sign: Double = v[big] < 0 ? -1 : 1
            let scale = sign * lambda.squareRoot()
            for i in 0..<n { embedding.values[i * c + j] = Float(v[v.startIndex + i] * scale) }
        }
        let explained = eigenvalues.reduce(0) { $0 + $1 * $1 }
        return Result(embedding: embedding, eigenvalues: eigenvalues,
                      reconstructionError: max(sumSquares - explained, 0).squareRoot() / Double(n),
                      graphComponents: componentCount, edges: graph.edgeCount,
                      eigenCycles: top.cycles, eigenProducts: top.products)
    }

    /// D → K = −½·H·D²·H in place (H = I − 11ᵀ/n), after averaging D² with its transpose
    /// (the two Dijkstra runs may differ in the last bits); returns ‖K‖²_F.
    static func centreKernel(_ k: inout [Double], n: Int) -> Double {
        k.withUnsafeMutableBufferPointer { kp in
            let p = kp.baseAddress!
            let tile = 64
            for bi in stride(from: 0, to: n, by: tile) {
                for bj in stride(from: bi, to: n, by: tile) {
                    for i in bi..<min(bi + tile, n) {
                        for j in max(bj, i)..<min(bj + tile, n) {
                            let a = p[i * n + j], b = p[j * n + i]
                            let v = -0.25 * (a * a + b * b)
                            p[i * n + j] = v; p[j * n + i] = v
                        }
                    }
                }
            }
            var means = [Double](repeating: 0, count: n)
            var total = 0.0
            for i in 0..<n {
                var s = 0.0
                for j in 0..<n { s += p[i * n + j] }
                means[i] = s / Double(n); total += s
            }
            let grand = total / Double(n * n)
            let box = UncheckedSendable(kp)
            let sums = UnsafeMutableBufferPointer<Double>.allocate(capacity: Parallel.threads)
            defer { sums.deallocate() }
            sums.initialize(repeating: 0)
            let sumsBox = UncheckedSendable(sums)
            means.withUnsafeBufferPointer { m in
                let mBox = UncheckedSendable(m)
                Parallel.forChunks(n) { chunk, rows in
                    let p = box.value.baseAddress!, m = mBox.value
                    var s = 0.0
                    for i in rows {
                        let row = p + i * n, mi = m[i] - grand
                        for j in 0..<n { let v = row[j] - mi - m[j]; row[j] = v; s += v * v }
                    }
                    sumsBox.value[chunk] = s
                }
            }
            return sums.reduce(0, +)
        }
    }

    static func formatBytes(_ bytes: Int) -> String {
        let gib = Double(bytes) / Double(1 << 30)
        if gib >= 1 { return "\((gib * 10).rounded() / 10) GiB" }
        return "\((Double(bytes) / Double(1 << 20)).rounded()) MiB"
    }
}

/// An undirected weighted graph in compressed rows (both directions stored).
fileprivate struct WeightedGraph {
    let count: Int
    var offsets: [Int]
    var targets: [Int32]
    var weights: [Double]

    var edgeCount: Int { targets.count / 2 }

    /// The symmetrised k-NN graph: i–j where j is among i's neighbours or i among j's.
    init(_ knn: NeighborGraph) {
        var pairs: [(Int32, Int32, Double)] = []
        pairs.reserveCapacity(2 * knn.count * knn.k)
        for i in 0..<knn.count {
            for c in 0..<knn.k {
                let j = knn.neighbor(i, c), d = knn.distance(i, c)
                pairs.append((Int32(i), Int32(j), d)); pairs.append((Int32(j), Int32(i), d))
            }
        }
        self.init(count: knn.count, pairs: pairs)
    }

    init(count: Int, pairs unsorted: [(Int32, Int32, Double)]) {
        self.count = count
        let pairs = unsorted.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && ($0.1 < $1.1 || ($0.1 == $1.1 && $0.2 < $1.2))) }
        offsets = [Int](repeating: 0, count: count + 1)
        targets = []; weights = []
        targets.reserveCapacity(pairs.count); weights.reserveCapacity(pairs.count)
        var last: (Int32, Int32) = (-1, -1)
        for (i, j, d) in pairs where (i, j) != last {
            targets.append(j); weights.append(d); offsets[Int(i) + 1] += 1
            last = (i, j)
        }
        for i in 0..<count { offsets[i + 1] += offsets[i] }
    }

    /// The connected component of every node, numbered in order of their lowest node.
    func componentLabels() -> [Int] {
        var label = [Int](repeating: -1, count: count)
        var next = 0, stack: [Int] = []
        for s in 0..<count where label[s] < 0 {
            label[s] = next; stack.append(s)
            while let u = stack.popLast() {
                for e in offsets[u]..<offsets[u + 1] where label[Int(targets[e])] < 0 {
                    label[Int(targets[e])] = next; stack.append(Int(targets[e]))
                }
            }
            next += 1
        }
        return label
    }

    /// Joins every pair of components by an edge between their closest points (scikit-learn's
    /// _fix_connected_components): one pass over all pairs of points, squared distances by
    /// SGEMM in blocks, the closest pair per component pair kept, its distance redone in Double.
    mutating func connect(components label: [Int], count c: Int, points x: Matrix) {
        let n = count, d = x.cols
        let norms = Neighbors.squaredNorms(x)
        // best[i·c + b]: the closest point of component b to point i, and its squared distance.
        var bestValue = [Float](repeating: .infinity, count: n * c)
        var bestIndex = [Int32](repeating: -1, count: n * c)
        let block = 128
        x.values.withUnsafeBufferPointer { xp in
        bestValue.withUnsafeMutableBufferPointer { bv in
        bestIndex.withUnsafeMutableBufferPointer { bi in
            let xBox = UncheckedSendable(xp), vBox = UncheckedSendable(bv), iBox = UncheckedSendable(bi)
            Parallel.forChunks((n + block - 1) / block) { _, blocks in
                var g = [Float](repeating: 0, count: block * n)
                g.withUnsafeMutableBufferPointer { gp in
                    for blk in blocks {
                        let lo = blk * block, rows = min(block, n - lo)
                        let base = xBox.value.baseAddress!
                        BLAS.gemm(transB: true, m: rows, n: n, k: d, base + lo * d, base, gp.baseAddress!)
                        for r in 0..<rows {
                            let i = lo + r, li = label[i]
                            for j in 0..<n where label[j] != li {
                                let v = max(norms[i] + norms[j] - 2 * gp[r * n + j], 0)
                                let slot = i * c + label[j]
                                if v < vBox.value[slot] { vBox.value[slot] = v; iBox.value[slot] = Int32(j) }
                            }
                        }
                    }
                }
            }
        }}}
        var pairs: [(Int32, Int32, Double)] = []
        for i in 0..<n { for e in offsets[i]..<offsets[i + 1] { pairs.append((Int32(i), targets[e], weights[e])) } }
        for a in 0..<c {
            for b in 0..<a {
                var best = -1, bestD = Float.infinity
                for i in 0..<n where label[i] == a && bestValue[i * c + b] < bestD { best = i; bestD = bestValue[i * c + b] }
                guard best >= 0 else { continue }
                let j = Int(bestIndex[best * c + b])
                var s = 0.0
                for f in 0..<d { let t = Double(x[best, f]) - Double(x[j, f]); s += t * t }
                pairs.append((Int32(best), Int32(j), s.squareRoot())); pairs.append((Int32(j), Int32(best), s.squareRoot()))
            }
        }
        self = WeightedGraph(count: n, pairs: pairs)
    }

    /// Row s of `out` (n×n, row-major) ← the shortest-path distances from node s, for every s:
    /// Dijkstra with a binary heap (lazy deletion), sources split over the threads.
    func allShortestPaths(into out: UnsafeMutablePointer<Double>) {
        let n = count
        let outBox = UncheckedSendable(out)
        offsets.withUnsafeBufferPointer { off in
        targets.withUnsafeBufferPointer { tg in
        weights.withUnsafeBufferPointer { wt in
            let g = UncheckedSendable((off, tg, wt))
            Parallel.forChunks(n) { _, sources in
                let (off, tg, wt) = g.value
                let capacity = tg.count + 1
                let heapKey = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
                let heapNode = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
                defer { heapKey.deallocate(); heapNode.deallocate() }
                for s in sources {
                    let dist = outBox.value + s * n
                    for i in 0..<n { dist[i] = .infinity }
                    dist[s] = 0
                    heapKey[0] = 0; heapNode[0] = Int32(s)
                    var size = 1
                    while size > 0 {
                        let key = heapKey[0], u = Int(heapNode[0])
                        // Pop: move the last element to the root and sift it down.
                        size -= 1
                        if size > 0 {
                            let k = heapKey[size], v = heapNode[size]
                            var p = 0
                            while true {
                                let l = 2 * p + 1
                                if l >= size { break }
                                let r = l + 1
                                let c = r < size && heapKey[r] < heapKey[l] ? r : l
                                if heapKey[c] >= k { break }
                                heapKey[p] = heapKey[c]; heapNode[p] = heapNode[c]; p = c
                            }
                            heapKey[p] = k; heapNode[p] = v
                        }
                        if key > dist[u] { continue }  // stale entry
                        for e in off[u]..<off[u + 1] {
                            let v = Int(tg[e]), nd = key + wt[e]
                            if nd < dist[v] {
                                dist[v] = nd
                                // Push and sift up.
                                var c = size
                                size += 1
                                while c > 0 {
                                    let p = (c - 1) / 2
                                    if heapKey[p] <= nd { break }
                                    heapKey[c] = heapKey[p]; heapNode[c] = heapNode[p]; c = p
                                }
                                heapKey[c] = nd; heapNode[c] = Int32(v)
                            }
                        }
                    }
                }
            }
        }}}
    }
}
