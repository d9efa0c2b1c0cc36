// Newton's method without the Hessian: truncated (inexact) Newton–CG.
//
// Nocedal & Wright, "Numerical Optimization" (2006), Algorithm 7.1 (line-search
// Newton–CG), as scipy.optimize.minimize(method="Newton-CG"): the Newton system
// (H + λI)·p = −∇f is solved by linear conjugate gradient, which needs only
// Hessian–vector products, stopped when the residual falls below
// min(0.5, √‖∇f‖)·‖∇f‖ (the forcing sequence of eq. 7.3, superlinear convergence; a
// fixed `cg_tolerance` replaces it), after `cg_max_iter` products, or at the first
// direction of non-positive curvature (then the last iterate, or −∇f at the first).
// A strong-Wolfe line search along p then starts from the Newton step t = lr (1).
//
// Hv comes from central differences of the gradient (Pearlmutter's exact R-operator
// would need a second backward pass per layer):
//     Hv ≈ (∇f(θ + h·v) − ∇f(θ − h·v)) / 2h,   h = ∛ε·(1 + max|θ|) / max|v|,
// exact on a quadratic up to rounding; each product costs two evaluations of the
// objective, so Newton suits models of up to ~10⁴ parameters or full-batch problems
// where evaluations are cheap. `damping` λ ≥ 0 adds λI (Levenberg–Marquardt / Tikhonov)
// for non-convex models. State: the counters and the last step size (metadata only).
import Foundation
import PhalanxCore

/// Line-search Newton–CG with finite-difference Hessian–vector products.
public final class NewtonCG: LineSearchOptimizer {
    override public var kind: String { "Newton" }
    /// Hessian–vector products per Newton system.
    public let cgMaxIterations: Int
    /// Relative CG residual at which the system counts as solved (nil: the forcing sequence).
    public let cgTolerance: Double?
    /// λ in (H + λI)p = −∇f.
    public let damping: Double
    /// Hessian–vector products so far.
    public private(set) var hessianProducts = 0

    private var stepSize = 0.0

    public init(learningRate: Float = 1, cgMaxIterations: Int = 50, cgTolerance: Double? = nil, damping: Double = 0,
                maxIterations: Int = 20, maxEvaluations: Int? = nil, toleranceGrad: Double = 1e-7,
                toleranceChange: Double = 1e-9, lineSearch: StrongWolfe = StrongWolfe(),
                regularization: Regularization = .none) {
        precondition(cgMaxIterations >= 1, "Newton: cg_max_iter must be at least 1")
        precondition(damping >= 0 && damping.isFinite, "Newton: damping must be finite and non-negative")
        self.cgMaxIterations = cgMaxIterations
        self.cgTolerance = cgTolerance
        self.damping = damping
        // Each Hessian–vector product costs two evaluations: the default budget allows
        // a full CG solve and a line search per iteration.
        super.init(learningRate: learningRate, regularization: regularization, maxIterations: maxIterations,
                   maxEvaluations: maxEvaluations ?? maxIterations * (2 * cgMaxIterations + 25),
                   toleranceGrad: toleranceGrad, toleranceChange: toleranceChange, lineSearch: lineSearch)
    }

    @discardableResult
    override public func step(_ parameters: [Parameter], objective: Objective) throws -> Double {
        let start = try beginStep(parameters, objective)
        if start.done { return start.loss }
        let flat = start.flat, atStart = start.atStart
        var loss = start.loss
        let first = loss
        var iteration = 0
        while true {
            iteration += 1
            iterations += 1
            let direction = try newtonDirection(flat, objective)
            let previousLoss = loss
            let slope = Flat.dot(gradient, direction)
            if slope > -toleranceChange {
                converged = "directional derivative above -tolerance_change"
                break
            }
            (loss, stepSize) = try search(flat, objective, f0: loss, gradient: &gradient, direction: direction,
                                          initial: Double(learningRate), search: lineSearch ?? StrongWolfe())
            if shouldStop(iteration: iteration, evaluationsAtStart: atStart, gradient: gradient, direction: direction,
                          stepSize: stepSize, loss: loss, previousLoss: previousLoss) { break }
        }
        return first
    }

    /// Solves (H + λI)p = −∇f approximately by linear CG from p = 0; θ and `gradient`
    /// are as before on return.
    private func newtonDirection(_ flat: FlatParameters, _ objective: Objective) throws -> [Float] {
        let n = flat.count
        var theta = [Float](repeating: 0, count: n)
        flat.read(into: &theta)
        let g0 = gradient
        let gNorm = Flat.dot(g0, g0).squareRoot()
        let tolerance = (cgTolerance ?? min(0.5, gNorm.squareRoot())) * gNorm
        var p = [Float](repeating: 0, count: n)
        var r = g0.map { -$0 }           // residual −∇f − (H + λI)p at p = 0
        var d = r
        var rr = Flat.dot(r, r)
        var hd = [Float](repeating: 0, count: n), plus = [Float](repeating: 0, count: n)
        let thetaMax = Flat.maxAbs(theta)
        for j in 0..<cgMaxIterations {
            // Hd by central differences of the gradient.
            let h = cbrt(Double(Float.ulpOfOne)) * (1 + thetaMax) / max(Flat.maxAbs(d), .leastNormalMagnitude)
            flat.move(from: theta, by: h, along: d)
            _ = try evaluate(flat, objective, gradient: &plus)
            flat.move(from: theta, by: -h, along: d)
            _ = try evaluate(flat, objective, gradient: &hd)
            hessianProducts += 1
            for i in 0..<n { hd[i] = Float((Double(plus[i]) - Double(hd[i])) / (2 * h) + damping * Double(d[i])) }
            let curvature = Flat.dot(d, hd)
            if !(curvature > 0) {
                if j == 0 { p = g0.map { -$0 } }
                break
            }
            let alpha = rr / curvature
            Flat.axpy(alpha, d, &p)
            Flat.axpy(-alpha, hd, &r)
            let rrNew = Flat.dot(r, r)
            if rrNew.squareRoot() <= tolerance { break }
            Flat.scale(&d, by: rrNew / rr)
            Flat.axpy(1, r, &d)
            rr = rrNew
        }
        flat.write(theta)
        gradient = g0
        return p
    }

    override public func stateMetadata() -> [String: String] {
        var m = counterScalars("newton")
        m.set("step_size", stepSize)
        m.set("hessian_products", hessianProducts)
        return m.values
    }

    override public func loadState(_ tensors: [String: Tensor], metadata: [String: String], step: Int,
                                   parameters: [Parameter]) throws(OptimizerStateError) {
        guard step >= 0 else { throw .negativeStep(step) }
        try rejectUnknown(tensors, known: [])
        let scalars = StateScalars(prefix: "newton", values: metadata)
        if step == 0 && scalars.values.isEmpty {
            stepCount = 0; iterations = 0; evaluations = 0; stepSize = 0; hessianProducts = 0
            return
        }
        let its = try scalars.int("iterations", optimizer: kind), evals = try scalars.int("evaluations", optimizer: kind)
        let t = try scalars.double("step_size", optimizer: kind), hv = try scalars.int("hessian_products", optimizer: kind)
        iterations = its; evaluations = evals; stepSize = t; hessianProducts = hv
        stepCount = step
    }
}
