// Elementwise kernels on raw buffers, parallel over chunks for large tensors.

/// Elementwise operations used by layers, losses and optimizers.
public enum Vector {
    /// Elements per parallel chunk below which kernels stay on one thread.
    public static let grain = 1 << 15

    /// out[i] = a[i] + b[i].
    public static func add(_ a: Tensor, _ b: Tensor, into out: Tensor) {
        precondition(a.count == b.count && a.count == out.count, "Vector.add: counts differ")
        let pa = a.data, pb = b.data, po = out.data
        Parallel.forEach(a.count, grain: grain) { r in
            for i in r { po[i] = pa[i] + pb[i] }
        }
    }

    /// y[i] += x[i].
    public static func accumulate(_ x: Tensor, into y: Tensor) {
        precondition(x.count == y.count, "Vector.accumulate: counts differ (\(x.count) vs \(y.count))")
        let px = x.data, py = y.data
        Parallel.forEach(x.count, grain: grain) { r in
            for i in r { py[i] += px[i] }
        }
    }

    /// Sum of all elements, accumulated in Double.
    public static func sum(_ x: Tensor) -> Double {
        var s = 0.0
        let p = x.data
        for i in 0..<x.count { s += Double(p[i]) }
        return s
    }

    /// Sum of squares, accumulated in Double.
    public static func sumOfSquares(_ x: Tensor) -> Double {
        var s = 0.0
        let p = x.data
        for i in 0..<x.count { s += Double(p[i]) * Double(p[i]) }
        return s
    }
}
