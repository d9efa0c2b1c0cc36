// Nonlinear conjugate gradient, Polak–Ribière with the PR+ restart.
//
// Polak & Ribière (1969); the "+" of Gilbert & Nocedal, "Global convergence properties
// of conjugate gradient methods for optimization" (SIAM J. Optim. 2, 1992); Nocedal &
// Wright, "Numerical Optimization" (2006), §5.2, eq. 5.44:
//     β = max(0, ∇fₖ₊₁ᵀ(∇fₖ₊₁ − ∇fₖ) / ‖∇fₖ‖²),   dₖ₊₁ = −∇fₖ₊₁ + β·dₖ,
// restarting with −∇f when β would be negative, when d is not a descent direction, and
// every `restart` iterations if set. The strong-Wolfe line search uses c₂ = 0.1 (a CG
// method needs a near-exact search); its first trial step is min(1, 1/‖∇f‖₁)·lr on the
// first iteration and tₖ₋₁·∇fₖ₋₁ᵀdₖ₋₁ / ∇fₖᵀdₖ afterwards (eq. 3.60). On a convex
// quadratic with exact line searches it is linear CG: the minimum in at most n steps.
// State: `cg.direction`, `cg.previous_gradient`; step size and slope in the metadata.
import PhalanxCore

/// Polak–Ribière+ nonlinear conjugate gradient with a strong-Wolfe line search.
public final class ConjugateGradient: LineSearchOptimizer {
    override public var kind: String { "CG" }
    /// Restart with steepest descent every this many iterations (0: only when PR+ says).
    public let restart: Int

    private var direction: [Float] = []
    private var previousGradient: [Float] = []
    private var stepSize = 0.0
    private var previousSlope = 0.0

    public init(learningRate: Float = 1, restart: Int = 0, maxIterations: Int = 20, maxEvaluations: Int? = nil,
                toleranceGrad: Double = 1e-7, toleranceChange: Double = 1e-9,
                lineSearch: StrongWolfe = StrongWolfe(c2: 0.1), regularization: Regularization = .none) {
        precondition(restart >= 0, "CG: restart must not be negative")
        self.restart = restart
        super.init(learningRate: learningRate, regularization: regularization, maxIterations: maxIterations,
                   maxEvaluations: maxEvaluations, toleranceGrad: toleranceGrad, toleranceChange: toleranceChange,
                   lineSearch: lineSearch)
    }

    @discardableResult
    override public func step(_ parameters: [Parameter], objective: Objective) throws -> Double {
        let start = try beginStep(parameters, objective)
        if start.done { return start.loss }
        let flat = start.flat, n = flat.count, atStart = start.atStart
        var loss = start.loss
        let first = loss
        var iteration = 0
        while true {
            iteration += 1
            iterations += 1
            var initial: Double
            let fresh = direction.count != n || previousGradient.count != n
            if fresh || (restart > 0 && (iterations - 1) % restart == 0) {
                direction = gradient.map { -$0 }
                initial = fresh ? min(1, 1 / Flat.sumAbs(gradient)) * Double(learningRate) : stepSize
            } else {
                let gg = Flat.dot(gradient, gradient), gp = Flat.dot(gradient, previousGradient)
                let beta = max(0, (gg - gp) / Flat.dot(previousGradient, previousGradient))
                Flat.scale(&direction, by: beta)
                Flat.axpy(-1, gradient, &direction)
                if Flat.dot(gradient, direction) >= 0 { direction = gradient.map { -$0 } }
                initial = stepSize
            }
            let slope = Flat.dot(gradient, direction)
            if !fresh && previousSlope < 0 && slope < 0 { initial = stepSize * previousSlope / slope }
            if !(initial > 0 && initial.isFinite) { initial = min(1, 1 / Flat.sumAbs(gradient)) * Double(learningRate) }
            previousGradient = gradient
            previousSlope = slope
            let previousLoss = loss
            if slope > -toleranceChange {
                converged = "directional derivative above -tolerance_change"
                break
            }
            (loss, stepSize) = try search(flat, objective, f0: loss, gradient: &gradient, direction: direction,
                                          initial: initial, search: lineSearch ?? StrongWolfe(c2: 0.1))
            if shouldStop(iteration: iteration, evaluationsAtStart: atStart, gradient: gradient, direction: direction,
                          stepSize: stepSize, loss: loss, previousLoss: previousLoss) { break }
        }
        return first
    }

    override public func stateTensors() -> [String: Tensor] {
        guard !direction.isEmpty else { return [:] }
        return ["cg.direction": Flat.tensor(direction), "cg.previous_gradient": Flat.tensor(previousGradient)]
    }

    override public func stateMetadata() -> [String: String] {
        var m = counterScalars("cg")
        m.set("step_size", stepSize)
        m.set("previous_slope", previousSlope)
        return m.values
    }

    override public func loadState(_ tensors: [String: Tensor], metadata: [String: String], step: Int,
                                   parameters: [Parameter]) throws(OptimizerStateError) {
        guard step >= 0 else { throw .negativeStep(step) }
        let n = FlatParameters(parameters, regularization: regularization).count
        try rejectUnknown(tensors, known: ["cg.direction", "cg.previous_gradient"])
        guard !(tensors.isEmpty && step == 0) else {
            direction = []; previousGradient = []
            stepCount = 0; iterations = 0; evaluations = 0; stepSize = 0; previousSlope = 0
            return
        }
        let scalars = StateScalars(prefix: "cg", values: metadata)
        let d = try vector(tensors, "cg.direction", count: n)
        let g = try vector(tensors, "cg.previous_gradient", count: n)
        let its = try scalars.int("iterations", optimizer: kind), evals = try scalars.int("evaluations", optimizer: kind)
        let t = try scalars.double("step_size", optimizer: kind), slope = try scalars.double("previous_slope", optimizer: kind)
        direction = d; previousGradient = g
        iterations = its; evaluations = evals; stepSize = t; previousSlope = slope
        stepCount = step
    }
}
