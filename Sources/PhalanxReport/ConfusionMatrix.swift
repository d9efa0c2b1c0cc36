// The confusion matrix of a classifier on a labelled split, and the per-class figures
// read off it (recall as "per-class accuracy", precision).

/// Counts of (true class, predicted class) pairs: `counts[t][p]`.
public struct ConfusionMatrix: Sendable, Equatable {
    public let classes: Int
    /// `counts[t][p]`: samples of true class t predicted as p.
    public private(set) var counts: [[Int]]

    /// Tallies `predicted` against `actual` (equal lengths, classes in 0 ..< `classes`).
    public init(predicted: [Int], actual: [Int], classes: Int) throws(ReportError) {
        guard predicted.count == actual.count else {
            throw ReportError(file: "<predictions>", "\(predicted.count) predictions for \(actual.count) labels")
        }
        self.classes = classes
        counts = Array(repeating: Array(repeating: 0, count: classes), count: classes)
        for (p, t) in zip(predicted, actual) {
            guard (0..<classes).contains(p), (0..<classes).contains(t) else {
                throw ReportError(file: "<predictions>", "class \(max(p, t)) outside the \(classes) classes")
            }
            counts[t][p] += 1
        }
    }

    /// Samples in all.
    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    /// Samples predicted right (the diagonal).
    public var correct: Int { (0..<classes).reduce(0) { $0 + counts[$1][$1] } }
    /// correct / total (0 for no samples).
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }
    /// Samples whose true class is `k`.
    public func support(_ k: Int) -> Int { counts[k].reduce(0, +) }
    /// Samples predicted as `k`.
    public func predictedCount(_ k: Int) -> Int { counts.reduce(0) { $0 + $1[k] } }
    /// Of class k's samples, the fraction predicted k (recall); nil when k has none.
    public func recall(_ k: Int) -> Double? { support(k) == 0 ? nil : Double(counts[k][k]) / Double(support(k)) }
    /// Of the samples predicted k, the fraction that are k; nil when none was.
    public func precision(_ k: Int) -> Double? {
        predictedCount(k) == 0 ? nil : Double(counts[k][k]) / Double(predictedCount(k))
    }
}
