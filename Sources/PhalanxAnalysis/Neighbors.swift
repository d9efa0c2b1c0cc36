// k nearest neighbours by brute force: squared distances ‖q‖² + ‖x‖² − 2·q·x for a block of
// queries at a time through one SGEMM, the k + margin smallest kept per query as
// candidates, their distances recomputed exactly in Double and the k nearest of those taken
// (the SGEMM form loses digits for close points: the margin keeps a near-tie in). What t-SNE's perplexities, ISOMAP's and LLE's graphs and the
// trustworthiness score read.
import PhalanxCore

/// The k nearest neighbours of every query, ascending by distance.
public struct NeighborGraph: Sendable {
    public let count: Int
    public let k: Int
    /// `count × k` row indices into the data; row `i` lists query `i`'s neighbours.
    public var indices: [Int32]
    /// `count × k` Euclidean distances (not squared), matching `indices`.
    public var distances: [Double]

    /// Neighbour `j` of query `i`.
    @inlinable public func neighbor(_ i: Int, _ j: Int) -> Int { Int(indices[i * k + j]) }
    @inlinable public func distance(_ i: Int, _ j: Int) -> Double { distances[i * k + j] }
}

public enum Neighbors {
    /// The `k` nearest rows of `data` to each of its own rows, the row itself left out
    /// (ties broken by the lower index).
    public static func nearest(_ data: Matrix, k: Int) throws(AnalysisError) -> NeighborGraph {
        guard k >= 1, k < data.rows else {
            throw .option("--neighbors", "\(k) neighbours need at least \(k + 1) samples and k ≥ 1; there are \(data.rows)")
        }
        return search(queries: data, data: data, k: k, excludeSelf: true)
    }

    /// The `k` nearest rows of `data` to each row of `queries`.
    public static func nearest(_ queries: Matrix, in data: Matrix, k: Int) throws(AnalysisError) -> NeighborGraph {
        guard k >= 1, k <= data.rows, queries.cols == data.cols else {
            throw .option("--neighbors", "\(k) neighbours among \(data.rows) samples of \(data.cols) features for queries of \(queries.cols)")
        }
        return search(queries: queries, data: data, k: k, excludeSelf: false)
    }

    /// The index of the nearest row of `centers` to each row of `x` (exact squared
    /// distances in Double, ties to the lower index): how fitted clusterings label new samples.
    public static func nearestCenter(of x: Matrix, among centers: Matrix) -> [Int] {
        (0..<x.rows).map { i in
            var best = 0, bestDistance = Double.infinity
            for c in 0..<centers.rows {
                var s = 0.0
                for f in 0..<x.cols { let t = Double(x[i, f]) - Double(centers[c, f]); s += t * t }
                if s < bestDistance { bestDistance = s; best = c }
            }
            return best
        }
    }

    /// Squared Euclidean norms of the rows.
    public static func squaredNorms(_ m: Matrix) -> [Float] {
        var out = [Float](repeating: 0, count: m.rows)
        m.values.withUnsafeBufferPointer { v in
            for i in 0..<m.rows {
                var s: Float = 0
                let row = v.baseAddress! + i * m.cols
                for j in 0..<m.cols { s += row[j] * row[j] }
                out[i] = s
            }
        }
        return out
    }

    private static func search(queries: Matrix, data: Matrix, k: Int, excludeSelf: Bool) -> NeighborGraph {
        let n = queries.rows, m = data.rows, d = data.cols
        // Candidates per query: k plus a margin, at most the rows there are to choose from.
        let kept = min(k + max(8, k / 4), m - (excludeSelf ? 1 : 0))
        let qNorms = squaredNorms(queries), xNorms = squaredNorms(data)
        var indices = [Int32](repeating: 0, count: n * k)
        var distances = [Double](repeating: 0, count: n * k)
        let block = 128
        let blocks = (n + block - 1) / block
        let threads = Parallel.threads
        // One scratch product per thread.
        var scratch = [[Float]](repeating: [], count: threads)
        for t in 0..<threads { scratch[t] = [Float](repeating: 0, count: min(block, n) * m) }
        indices.withUnsafeMutableBufferPointer { idx in
        distances.withUnsafeMutableBufferPointer { dist in
        queries.values.withUnsafeBufferPointer { q in
        data.values.withUnsafeBufferPointer { x in
        scratch.withUnsafeMutableBufferPointer { scratchBuffers in
            let idxBox = UncheckedSendable(idx), distBox = UncheckedSendable(dist)
            let scratchBox = UncheckedSendable(scratchBuffers)
            Parallel.forChunks(blocks) { thread, range in
                scratchBox.value[thread].withUnsafeMutableBufferPointer { g in
                    var heapIndex = [Int](repeating: 0, count: kept), heapValue = [Float](repeating: 0, count: kept)
                    var exact = [(Double, Int)](repeating: (0, 0), count: kept)
                    for b in range {
                        let lo = b * block, rows = min(block, n - lo)
                        BLAS.gemm(transB: true, m: rows, n: m, k: d, q.baseAddress! + lo * d, x.baseAddress!, g.baseAddress!)
                        for r in 0..<rows {
                            let i = lo + r
                            let row = g.baseAddress! + r * m
                            // A max-heap of the `kept` smallest squared distances seen so far.
                            var size = 0
                            for j in 0..<m {
                                if excludeSelf && j == i { continue }
                                let v = max(qNorms[i] + xNorms[j] - 2 * row[j], 0)
                                if size < kept {
                                    heapValue[size] = v; heapIndex[size] = j; size += 1
                                    var c = size - 1
                                    while c > 0 {
                                        let p = (c - 1) / 2
                                        if heapValue[p] >= heapValue[c] { break }
                                        heapValue.swapAt(p, c); heapIndex.swapAt(p, c); c = p
                                    }
                                } else if v < heapValue[0] {
                                    heapValue[0] = v; heapIndex[0] = j
                                    var p = 0
                                    while true {
                                        let l = 2 * p + 1, rr = l + 1
                                        var top = p
                                        if l < kept && heapValue[l] > heapValue[top] { top = l }
                                        if rr < kept && heapValue[rr] > heapValue[top] { top = rr }
                                        if top == p { break }
                                        heapValue.swapAt(p, top); heapIndex.swapAt(p, top); p = top
                                    }
                                }
                            }
                            // Exact distances of the candidates, sorted (ties by index).
                            let qi = q.baseAddress! + i * d
                            for c in 0..<kept {
                                let xj = x.baseAddress! + heapIndex[c] * d
                                var s = 0.0
                                for f in 0..<d { let t = Double(qi[f]) - Double(xj[f]); s += t * t }
                                exact[c] = (s.squareRoot(), heapIndex[c])
                            }
                            exact.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                            for c in 0..<k {
                                idxBox.value[i * k + c] = Int32(exact[c].1)
                                distBox.value[i * k + c] = exact[c].0
                            }
                        }
                    }
                }
            }
        }}}}}
        return NeighborGraph(count: n, k: k, indices: indices, distances: distances)
    }
}
