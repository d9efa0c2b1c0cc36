// Bagging's bookkeeping: each member's bootstrap sample of the training split, and the
// out-of-bag estimate of the ensemble's accuracy from the samples each member never saw.
import Foundation
import PhalanxCore
import PhalanxData

/// The training samples one bagging member drew (with replacement), kept beside its
/// checkpoint as `bootstrap.json`.
public struct BootstrapSample: Codable, Equatable, Sendable {
    /// 0-based member number.
    public var member: Int
    /// The ensemble's seed the draw came from.
    public var seed: UInt64
    /// The size of the training split the indices point into.
    public var trainCount: Int
    /// Drawn indices into the training split, in draw order (repeats allowed).
    public var indices: [Int]

    enum CodingKeys: String, CodingKey { case member, seed, indices, trainCount = "train_count" }

    /// Draws `round(fraction × trainCount)` indices for `member`, seeded by `(seed, member)`.
    public init(member: Int, seed: UInt64, trainCount: Int, fraction: Double) {
        self.member = member; self.seed = seed; self.trainCount = trainCount
        let size = max(1, Int((fraction * Double(trainCount)).rounded()))
        indices = Dataset.bootstrapIndices(count: trainCount, seed: seed, member: member, size: size)
    }

    /// `inBag[i]` is true when sample `i` was drawn at least once.
    public var inBag: [Bool] {
        var seen = [Bool](repeating: false, count: trainCount)
        for i in indices { seen[i] = true }
        return seen
    }

    /// The samples this member never saw, ascending.
    public var outOfBag: [Int] { inBag.enumerated().compactMap { $0.element ? nil : $0.offset } }
}

/// The out-of-bag estimate: each training sample is predicted by the soft vote of only
/// the members that did not draw it; samples every member drew are left out.
public enum OutOfBag {
    public struct Estimate: Codable, Equatable, Sendable {
        /// Accuracy over the covered samples.
        public var accuracy: Double
        /// Samples that at least one member left out.
        public var covered: Int
        /// Size of the training split.
        public var total: Int
    }

    /// `probabilities[m]` are member m's class probabilities `[n, K]` over the whole
    /// training split; `samples[m]` its bootstrap sample; `weights` optional member weights.
    public static func estimate(probabilities: [Tensor], samples: [BootstrapSample], labels: [Int32],
                                weights: [Double]? = nil) -> Estimate {
        precondition(probabilities.count == samples.count, "OutOfBag: \(probabilities.count) members' probabilities, \(samples.count) samples")
        let n = labels.count
        guard let k = probabilities.first?.shape.last else { return Estimate(accuracy: 0, covered: 0, total: n) }
        let bags = samples.map(\.inBag)
        let w = weights ?? Array(repeating: 1, count: samples.count)
        var covered = 0, right = 0
        var sum = [Double](repeating: 0, count: k)
        for i in 0..<n {
            var any = false
            for c in 0..<k { sum[c] = 0 }
            for m in 0..<samples.count where !bags[m][i] {
                any = true
                let row = probabilities[m].data + i * k
                for c in 0..<k { sum[c] += w[m] * Double(row[c]) }
            }
            guard any else { continue }
            covered += 1
            var best = 0
            for c in 1..<k where sum[c] > sum[best] { best = c }
            if best == Int(labels[i]) { right += 1 }
        }
        return Estimate(accuracy: covered > 0 ? Double(right) / Double(covered) : 0, covered: covered, total: n)
    }
}
