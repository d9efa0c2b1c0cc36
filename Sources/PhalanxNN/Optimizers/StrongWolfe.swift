// Line search for the strong Wolfe conditions, with cubic interpolation.
//
// Nocedal & Wright, "Numerical Optimization" (2nd ed., 2006), Algorithms 3.5 (bracket)
// and 3.6 (zoom), interpolation by eq. 3.59. Along a descent direction d from θ₀, with
// φ(t) = f(θ₀ + t·d), a step t is accepted when
//     φ(t) ≤ φ(0) + c₁·t·φ'(0)          (sufficient decrease, Armijo)
//     |φ'(t)| ≤ c₂·|φ'(0)|               (curvature, strong form)
// with 0 < c₁ < c₂ < 1: c₂ = 0.9 for quasi-Newton methods, 0.1 for conjugate gradient.
// The bracketing phase extrapolates (at most ×10 a trial) until it holds an interval
// that contains an acceptable step; the zoom phase shrinks it by safeguarded cubic
// interpolation. It stops early when the interval is narrower than `toleranceChange`
// (in θ) or the evaluation budget is spent, returning the best step seen.
import Foundation

/// A strong-Wolfe line search over φ(t) = f(θ₀ + t·d).
public struct StrongWolfe: Sendable, Equatable {
    /// Sufficient-decrease constant c₁.
    public var c1: Double
    /// Curvature constant c₂ (c₁ < c₂ < 1).
    public var c2: Double
    /// The search stops when the bracket is narrower than this in θ (max |t·d| change).
    public var toleranceChange: Double
    /// Evaluations of φ one search may use.
    public var maxEvaluations: Int

    public init(c1: Double = 1e-4, c2: Double = 0.9, toleranceChange: Double = 1e-9, maxEvaluations: Int = 25) {
        precondition(c1 > 0 && c1 < c2 && c2 < 1, "StrongWolfe: need 0 < c1 < c2 < 1, got c1 \(c1), c2 \(c2)")
        self.c1 = c1; self.c2 = c2; self.toleranceChange = toleranceChange; self.maxEvaluations = max(1, maxEvaluations)
    }

    /// A point of φ: step, value, slope φ'(t) = ∇f·d.
    public struct Point: Sendable, Equatable {
        public var t: Double, f: Double, slope: Double
    }

    /// The outcome of one search.
    public struct Result: Sendable, Equatable {
        /// The chosen point (t = 0 when no step decreased φ).
        public var point: Point
        /// Evaluations of φ made.
        public var evaluations: Int
        /// Whether `point` was the last point evaluated (θ and the gradient are there);
        /// otherwise the caller moves back to it and evaluates again.
        public var isLastEvaluated: Bool
        /// Whether both Wolfe conditions hold at `point`.
        public var satisfiesWolfe: Bool
    }

    /// Searches along d from φ(0) = `f0`, φ'(0) = `slope0` (< 0), first trying `initial`;
    /// `phi(t)` evaluates f and ∇f·d at θ₀ + t·d. `directionMax` is max |dᵢ|.
    public func search(f0: Double, slope0: Double, initial: Double, directionMax: Double,
                       phi: (Double) throws -> (f: Double, slope: Double)) rethrows -> Result {
        let origin = Point(t: 0, f: f0, slope: slope0)
        var evaluations = 0
        var last = origin
        func evaluate(_ t: Double) throws -> Point {
            let (f, s) = try phi(t)
            evaluations += 1
            last = Point(t: t, f: f, slope: s)
            return last
        }
        func done(_ p: Point, wolfe: Bool) -> Result {
            Result(point: p, evaluations: evaluations, isLastEvaluated: p == last, satisfiesWolfe: wolfe)
        }
        func armijo(_ p: Point) -> Bool { p.f <= f0 + c1 * p.t * slope0 }
        func curvature(_ p: Point) -> Bool { abs(p.slope) <= -c2 * slope0 }

        // Bracketing: lo is the end with the lower φ that satisfies sufficient decrease.
        var previous = origin
        var t = initial
        var lo: Point, hi: Point
        while true {
            let p = try evaluate(t)
            if !p.f.isFinite || !armijo(p) || (evaluations > 1 && p.f >= previous.f) {
                lo = previous; hi = p
                break
            }
            if curvature(p) { return done(p, wolfe: true) }
            if p.slope >= 0 {
                lo = p; hi = previous
                break
            }
            if evaluations >= maxEvaluations { return done(p, wolfe: false) }
            let next = Self.cubicMinimum(previous, p, lower: p.t + 0.01 * (p.t - previous.t), upper: p.t * 10)
            previous = p
            t = next
        }

        // Zoom: shrink [lo, hi] until a point satisfies both conditions.
        var insufficientProgress = false
        while evaluations < maxEvaluations {
            let lower = min(lo.t, hi.t), upper = max(lo.t, hi.t)
            if (upper - lower) * directionMax < toleranceChange { break }
            var t = hi.f.isFinite ? Self.cubicMinimum(lo, hi, lower: lower, upper: upper) : (lower + upper) / 2
            // Keep the trial away from the ends: a step at an end teaches nothing new.
            let margin = 0.1 * (upper - lower)
            if min(upper - t, t - lower) < margin {
                if insufficientProgress || t >= upper || t <= lower {
                    t = abs(t - upper) < abs(t - lower) ? upper - margin : lower + margin
                    insufficientProgress = false
                } else {
                    insufficientProgress = true
                }
            } else {
                insufficientProgress = false
            }
            let p = try evaluate(t)
            if !p.f.isFinite || !armijo(p) || p.f >= lo.f {
                hi = p
            } else {
                if curvature(p) { return done(p, wolfe: true) }
                if p.slope * (hi.t - lo.t) >= 0 { hi = lo }
                lo = p
            }
        }
        return done(lo, wolfe: false)
    }

    /// The minimiser of the cubic through two points with their slopes, clamped to
    /// [lower, upper]; the midpoint when the cubic has no minimum there.
    public static func cubicMinimum(_ a: Point, _ b: Point, lower: Double, upper: Double) -> Double {
        let d1 = a.slope + b.slope - 3 * (a.f - b.f) / (a.t - b.t)
        let d2squared = d1 * d1 - a.slope * b.slope
        if d2squared >= 0 {
            let d2 = d2squared.squareRoot() * (b.t >= a.t ? 1 : -1)
            let t = b.t - (b.t - a.t) * ((b.slope + d2 - d1) / (b.slope - a.slope + 2 * d2))
            if t.isFinite { return min(max(t, lower), upper) }
        }
        return (lower + upper) / 2
    }
}
