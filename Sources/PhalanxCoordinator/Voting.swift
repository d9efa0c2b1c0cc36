// Combining members' predictions: soft voting (weighted mean of probabilities), hard
// voting (weighted majority with a deterministic tie-break), and how often members
// disagree.
import PhalanxCore

/// Votes over the predictions of ensemble members on the same samples.
public enum Voting {
    /// The weighted mean of the members' class probabilities, each `[N, K]`
    /// (`weights` default to equal; they need not sum to one).
    public static func soft(_ probabilities: [Tensor], weights: [Double]? = nil) -> Tensor {
        precondition(!probabilities.isEmpty, "Voting.soft: no members")
        let shape = probabilities[0].shape
        precondition(probabilities.allSatisfy { $0.shape == shape }, "Voting.soft: members' probabilities differ in shape")
        let w = weights ?? Array(repeating: 1, count: probabilities.count)
        precondition(w.count == probabilities.count, "Voting.soft: \(w.count) weights for \(probabilities.count) members")
        let total = w.reduce(0, +)
        precondition(total > 0, "Voting.soft: the weights sum to \(total)")
        let out = Tensor(shape: shape)
        let n = out.count
        for (p, wm) in zip(probabilities, w) where wm != 0 {
            let scale = Float(wm / total), src = p.data, dst = out.data
            for i in 0..<n { dst[i] += scale * src[i] }
        }
        return out
    }

    /// The class with the largest entry of each row of `[N, K]` scores (the first on ties).
    public static func argmax(_ scores: Tensor) -> [Int] {
        precondition(scores.rank == 2, "Voting.argmax: scores must be [N, K]")
        let n = scores.shape[0], k = scores.shape[1]
        return (0..<n).map { i in
            let row = scores.data + i * k
            var best = 0
            for j in 1..<k where row[j] > row[best] { best = j }
            return best
        }
    }

    /// Weighted majority of the members' predicted classes (`predictions[m][i]`), `K`
    /// classes. A tie goes to the tied class with the largest score in `tieBreak` (e.g.
    /// the soft vote) when given, and then to the smallest class index — the same
    /// answer on every run and every rank.
    public static func hard(_ predictions: [[Int]], classes: Int, weights: [Double]? = nil,
                            tieBreak: Tensor? = nil) -> [Int] {
        precondition(!predictions.isEmpty, "Voting.hard: no members")
        let n = predictions[0].count
        precondition(predictions.allSatisfy { $0.count == n }, "Voting.hard: members predict different sample counts")
        let w = weights ?? Array(repeating: 1, count: predictions.count)
        precondition(w.count == predictions.count, "Voting.hard: \(w.count) weights for \(predictions.count) members")
        if let t = tieBreak { precondition(t.shape == [n, classes], "Voting.hard: tie-break scores must be [\(n), \(classes)]") }
        var votes = [Double](repeating: 0, count: classes)
        var out = [Int](repeating: 0, count: n)
        for i in 0..<n {
            for c in 0..<classes { votes[c] = 0 }
            for (m, p) in predictions.enumerated() { votes[p[i]] += w[m] }
            var best = 0
            for c in 1..<classes {
                if votes[c] > votes[best] + 1e-12 {
                    best = c
                } else if abs(votes[c] - votes[best]) <= 1e-12, let t = tieBreak,
                          t.data[i * classes + c] > t.data[i * classes + best] {
                    best = c
                }
            }
            out[i] = best
        }
        return out
    }

    /// The fraction of `predicted` equal to `labels`.
    public static func accuracy(_ predicted: [Int], labels: [Int32]) -> Double {
        precondition(predicted.count == labels.count, "Voting.accuracy: \(predicted.count) predictions for \(labels.count) labels")
        guard !labels.isEmpty else { return 0 }
        var right = 0
        for (p, l) in zip(predicted, labels) where p == Int(l) { right += 1 }
        return Double(right) / Double(labels.count)
    }

    /// How much members disagree: the fraction of samples on which they do not all
    /// predict the same class, and the mean over member pairs of the fraction of samples
    /// on which the pair differs.
    public static func disagreement(_ predictions: [[Int]]) -> (anyMember: Double, pairwise: Double) {
        guard let first = predictions.first, !first.isEmpty else { return (0, 0) }
        let n = first.count
        var split = 0
        for i in 0..<n where predictions.contains(where: { $0[i] != first[i] }) { split += 1 }
        var pairs = 0, pairSum = 0.0
        for a in 0..<predictions.count {
            for b in (a + 1)..<predictions.count {
                var differ = 0
                for i in 0..<n where predictions[a][i] != predictions[b][i] { differ += 1 }
                pairSum += Double(differ) / Double(n)
                pairs += 1
            }
        }
        return (Double(split) / Double(n), pairs > 0 ? pairSum / Double(pairs) : 0)
    }
}
