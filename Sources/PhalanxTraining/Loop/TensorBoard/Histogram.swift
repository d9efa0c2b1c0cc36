// A histogram of a tensor's values for TensorBoard (its `HistogramProto`): min, max, count,
// sum, sum of squares and bucket counts with their right edges. Buckets are equal-width
// over [min, max] (TensorBoard reads any edges; its own legacy writer's exponential ones
// suit values spread over many magnitudes, which weights rarely are).

/// The summary statistics and bucket counts of a set of values.
public struct Histogram: Equatable, Sendable {
    public var min: Double
    public var max: Double
    public var count: Int
    public var sum: Double
    public var sumOfSquares: Double
    /// Right edges: bucket k counts values in (limits[k − 1], limits[k]], bucket 0 from min.
    public var bucketLimits: [Double]
    public var buckets: [Double]

    /// The histogram of the finite `values` in `bucketCount` equal-width buckets (one
    /// bucket when they are all equal); nil when there is no finite value.
    public init?(_ values: UnsafeBufferPointer<Float>, bucketCount: Int = 30) {
        var lo = Double.infinity, hi = -Double.infinity, n = 0, s = 0.0, s2 = 0.0
        for v in values where v.isFinite {
            let d = Double(v)
            lo = Swift.min(lo, d); hi = Swift.max(hi, d)
            n += 1; s += d; s2 += d * d
        }
        guard n > 0 else { return nil }
        (min, max, count, sum, sumOfSquares) = (lo, hi, n, s, s2)
        let k = hi > lo ? Swift.max(1, bucketCount) : 1
        let width = (hi - lo) / Double(k)
        bucketLimits = (1...k).map { $0 == k ? hi : lo + width * Double($0) }
        buckets = [Double](repeating: 0, count: k)
        for v in values where v.isFinite {
            let b = width > 0 ? Int(((Double(v) - lo) / width).rounded(.up)) - 1 : 0
            buckets[Swift.min(k - 1, Swift.max(0, b))] += 1
        }
    }
}
