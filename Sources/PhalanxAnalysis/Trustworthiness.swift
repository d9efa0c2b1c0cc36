// Trustworthiness of an embedding (Venna & Kaski 2001), scikit-learn's
// `sklearn.manifold.trustworthiness` with the Euclidean metric: for each sample, the ranks in
// the input space of its k nearest neighbours in the embedding. Input-space distances come a
// block of rows at a time from one DGEMM (‖a‖² + ‖b‖² − 2a·b in Double); only a block of
// N-long distance rows is held, never an N × N matrix. Time O(N²·features).
import CBLAS
import PhalanxCore

/// How far an embedding keeps only true neighbours: T(k) = 1 − 2/(nk(2n − 3k − 1)) ·
/// Σ_i Σ_{j ∈ N_k(i)} max(0, r(i, j) − k), where N_k(i) are sample i's k nearest neighbours
/// in the embedding and r(i, j) is j's rank (1 = nearest) among i's neighbours in the input
/// space (Venna & Kaski, "Neighborhood Preservation in Nonlinear Projection Methods", ICANN
/// 2001; scikit-learn's `trustworthiness`). 1 when every embedding neighbour is also an
/// input neighbour. Ties rank by the lower index.
public enum Trustworthiness {
    /// T(k) of `embedding` (N × components) for the samples `x` (N × features); `k < N / 2`
    /// (`--neighbors`).
    public static func score(_ x: Matrix, _ embedding: Matrix, neighbors k: Int) throws(AnalysisError) -> Double {
        try x.validate(minimumRows: 3, method: "trustworthiness")
        try embedding.validate(minimumRows: 3, method: "trustworthiness")
        let n = x.rows, d = x.cols
        guard embedding.rows == n else {
            throw .input("trustworthiness: the embedding has \(embedding.rows) samples, the input \(n)")
        }
        guard k >= 1, 2 * k < n else {
            throw .option("--neighbors", "\(k) must be at least 1 and less than half the samples (\(n))")
        }
        let graph = try Neighbors.nearest(embedding, k: k)
        let data = x.doubles
        var norms = [Double](repeating: 0, count: n)
        for i in 0..<n { var s = 0.0; for f in 0..<d { s += data[i * d + f] * data[i * d + f] }; norms[i] = s }
        let block = 64, blocks = (n + block - 1) / block
        let threads = Parallel.threads
        var scratch = [Double](repeating: 0, count: threads * min(block, n) * n)
        var penalty = [Int](repeating: 0, count: threads)
        data.withUnsafeBufferPointer { xb in
        norms.withUnsafeBufferPointer { nb in
        graph.indices.withUnsafeBufferPointer { gi in
        scratch.withUnsafeMutableBufferPointer { sb in
        penalty.withUnsafeMutableBufferPointer { pb in
            let xs = UncheckedSendable(xb.baseAddress!), ns = UncheckedSendable(nb.baseAddress!)
            let neighbours = UncheckedSendable(gi.baseAddress!), ss = UncheckedSendable(sb.baseAddress!)
            let out = UncheckedSendable(pb.baseAddress!)
            Parallel.forChunks(blocks) { chunk, range in
                let g = ss.value + chunk * min(block, n) * n
                var sum = 0
                for b in range {
                    let lo = b * block, rows = min(block, n - lo)
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(d), 1,
                                xs.value + lo * d, Int32(d), xs.value, Int32(d), 0, g, Int32(n))
                    for r in 0..<rows {
                        let i = lo + r, row = g + r * n
                        for j in 0..<n { row[j] = ns.value[i] + ns.value[j] - 2 * row[j] }
                        row[i] = .infinity
                        for c in 0..<k {
                            let j = Int(neighbours.value[i * k + c]), dij = row[j]
                            // Rank of j: 1 + the samples nearer than j (ties: lower index first).
                            var nearer = 0
                            for l in 0..<j where row[l] <= dij { nearer += 1 }
                            for l in (j + 1)..<max(j + 1, n) where row[l] < dij { nearer += 1 }
                            sum += max(0, nearer + 1 - k)
                        }
                    }
                }
                out.value[chunk] = sum
            }
        }}}}}
        let total = Double(penalty.reduce(0, +))
        let nd = Double(n), kd = Double(k)
        return 1 - total * 2 / (nd * kd * (2 * nd - 3 * kd - 1))
    }
}
