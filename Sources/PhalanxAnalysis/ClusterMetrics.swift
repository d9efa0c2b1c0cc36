// How well clusters match known classes: normalised mutual information (arithmetic-mean
// normalisation, scikit-learn's default), the adjusted Rand index (Hubert & Arabie 1985)
// and purity — all from the contingency table of labels against clusters.
import Foundation

/// Agreement of a clustering with reference labels.
public struct ClusterMetrics: Sendable, Equatable {
    public var nmi: Double
    public var ari: Double
    public var purity: Double
    public var clusters: Int
    public var classes: Int

    /// Compares `clusters` (any integers; −1 counts as a cluster of its own like any other
    /// value) with `labels`, sample by sample.
    public init(labels: [Int], clusters assigned: [Int]) throws(AnalysisError) {
        guard labels.count == assigned.count, !labels.isEmpty else {
            throw .input("\(labels.count) labels for \(assigned.count) cluster assignments")
        }
        let classIndex = Dictionary(uniqueKeysWithValues: Set(labels).sorted().enumerated().map { ($1, $0) })
        let clusterIndex = Dictionary(uniqueKeysWithValues: Set(assigned).sorted().enumerated().map { ($1, $0) })
        let r = classIndex.count, c = clusterIndex.count
        var table = [Double](repeating: 0, count: r * c)
        for (l, k) in zip(labels, assigned) { table[classIndex[l]! * c + clusterIndex[k]!] += 1 }
        let n = Double(labels.count)
        var rowSums = [Double](repeating: 0, count: r), colSums = [Double](repeating: 0, count: c)
        for i in 0..<r { for j in 0..<c { rowSums[i] += table[i * c + j]; colSums[j] += table[i * c + j] } }
        // Mutual information and entropies, natural logarithms.
        var mi = 0.0
        for i in 0..<r { for j in 0..<c where table[i * c + j] > 0 {
            let nij = table[i * c + j]
            mi += nij / n * log(n * nij / (rowSums[i] * colSums[j]))
        } }
        func entropy(_ sums: [Double]) -> Double { sums.reduce(0) { $1 > 0 ? $0 - $1 / n * log($1 / n) : $0 } }
        let hu = entropy(rowSums), hv = entropy(colSums)
        if (r == 1 && c == 1) || (r == labels.count && c == labels.count) {
            nmi = 1
        } else {
            let mean = (hu + hv) / 2
            nmi = mean > 0 ? max(mi, 0) / mean : 0
        }
        // Adjusted Rand index from pair counts.
        func pairs(_ v: Double) -> Double { v * (v - 1) / 2 }
        let index = table.reduce(0) { $0 + pairs($1) }
        let a = rowSums.reduce(0) { $0 + pairs($1) }, b = colSums.reduce(0) { $0 + pairs($1) }
        let expected = a * b / pairs(n), maximum = (a + b) / 2
        if maximum == expected {
            ari = 1  // both partitions trivial in the same way (scikit-learn's special case)
        } else {
            ari = (index - expected) / (maximum - expected)
        }
        var majority = 0.0
        for j in 0..<c { var m = 0.0; for i in 0..<r { m = max(m, table[i * c + j]) }; majority += m }
        purity = majority / n
        clusters = c
        classes = r
    }
}
