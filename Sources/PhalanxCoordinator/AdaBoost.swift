// AdaBoost, multi-class (SAMME; Zhu, Zou, Rosset & Hastie 2009): each member trains on a
// resample of the training split drawn by the current sample weights; its weighted error
// gives its vote α, and the samples it got wrong gain weight for the next member.
import Foundation
import PhalanxCore

/// SAMME's arithmetic, kept apart from training so it can be checked by hand.
public enum AdaBoost {
    /// One boosting round's outcome, kept in `boosting.json`.
    public struct Round: Codable, Equatable, Sendable {
        public var member: Int
        /// Weighted training error ε of the member.
        public var error: Double
        /// The member's vote α = ln((1 − ε)/ε) + ln(K − 1); 0 when ε ≥ 1 − 1/K (no better
        /// than chance: the member is left out and boosting stops).
        public var alpha: Double
    }

    /// The smallest error used in α, so that a perfect member gets a large finite vote.
    public static let errorFloor = 1e-10

    /// SAMME's update for `weights` (summing to 1) given which samples the member got
    /// right, with `classes` classes: the weighted error, α, and the new weights
    /// w·exp(α·[wrong]) normalised to sum to 1 (unchanged when α ≤ 0).
    public static func update(weights: [Double], correct: [Bool], classes: Int) -> (error: Double, alpha: Double, weights: [Double]) {
        precondition(weights.count == correct.count, "AdaBoost.update: \(weights.count) weights, \(correct.count) outcomes")
        precondition(classes >= 2, "AdaBoost.update: needs at least two classes")
        let total = weights.reduce(0, +)
        var wrong = 0.0
        for (w, ok) in zip(weights, correct) where !ok { wrong += w }
        let error = wrong / total
        let e = min(max(error, errorFloor), 1 - errorFloor)
        let alpha = log((1 - e) / e) + log(Double(classes - 1))
        guard alpha > 0 else { return (error, 0, weights.map { $0 / total }) }
        let boost = exp(alpha)
        var next = zip(weights, correct).map { $1 ? $0 : $0 * boost }
        let sum = next.reduce(0, +)
        for i in next.indices { next[i] /= sum }
        return (error, alpha, next)
    }

    /// `count` indices drawn with replacement, index i with probability weights[i] / Σw
    /// (the resample a member trains on), by inverse transform of the cumulative weights.
    public static func resample(weights: [Double], count: Int, rng: inout RNG) -> [Int] {
        precondition(!weights.isEmpty, "AdaBoost.resample: no weights")
        var cumulative = [Double](repeating: 0, count: weights.count)
        var running = 0.0
        for (i, w) in weights.enumerated() { running += w; cumulative[i] = running }
        return (0..<count).map { _ in
            let u = Double(rng.next() >> 11) * 0x1p-53 * running
            var lo = 0, hi = cumulative.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
    }
}
