// Optimizers that evaluate the objective several times per step (L-BFGS, nonlinear
// conjugate gradient, Newton–CG), and the flat view of the parameters they work on.
//
// Like `torch.optim.LBFGS`, such an optimizer is handed a closure — the objective —
// which zeroes the gradients, runs forward and backward on one fixed batch (under
// mpirun: sums loss and gradients over the ranks) and returns the loss. The optimizer
// treats the trainable parameters as one vector θ, adds the L1/L2 penalty to the loss
// and to the gradient itself (so that the line search sees the objective it
// minimises), and calls the closure as often as its line search needs. Every rank sees
// the same sums, so every rank takes the same decisions and the same step.
import PhalanxCore

/// One evaluation of the objective: returns the batch's loss (summed over the ranks)
/// with the parameters' gradients filled in (likewise summed).
public typealias Objective = () throws -> Double

/// An optimizer whose step evaluates the objective several times.
public protocol ClosureOptimizer: Optimizer {
    /// One step: up to the optimizer's iteration limit, each with its line search.
    /// Returns the objective (loss plus penalty) at the parameters the step started from.
    @discardableResult
    func step(_ parameters: [Parameter], objective: Objective) throws -> Double
    /// Evaluations of the objective so far, over all steps (restored with the state).
    var evaluations: Int { get }
    /// Iterations (search directions) so far, over all steps.
    var iterations: Int { get }
    /// Why the last step stopped before its iteration limit, when it met a tolerance
    /// (`gradient below tolerance_grad`); nil while the optimizer is still making progress.
    var converged: String? { get }
}

extension ClosureOptimizer {
    /// A closure optimizer needs its objective; the loop never calls this.
    public func step(_ parameters: [Parameter]) {
        fatalError("\(kind) evaluates the objective several times a step: call step(_:objective:)")
    }
}

/// The trainable parameters as one vector θ: read and write it, move along a
/// direction, and take the penalised gradient of the last evaluation.
public struct FlatParameters {
    /// The parameters with `requiresGrad`, in their stable order.
    public let parameters: [Parameter]
    /// The length of θ.
    public let count: Int
    let regularization: Regularization

    public init(_ parameters: [Parameter], regularization: Regularization) {
        self.parameters = parameters.filter(\.requiresGrad)
        count = self.parameters.reduce(0) { $0 + $1.count }
        self.regularization = regularization
    }

    /// Copies θ into `x`.
    public func read(into x: inout [Float]) {
        var o = 0
        for p in parameters {
            let v = p.value.data
            for i in 0..<p.count { x[o + i] = v[i] }
            o += p.count
        }
    }

    /// Sets θ = `x`.
    public func write(_ x: [Float]) {
        var o = 0
        for p in parameters {
            let v = p.value.data
            for i in 0..<p.count { v[i] = x[o + i] }
            o += p.count
        }
    }

    /// Sets θ = `origin` + t·`direction`.
    public func move(from origin: [Float], by t: Double, along direction: [Float]) {
        var o = 0
        let step = Float(t)
        for p in parameters {
            let v = p.value.data
            for i in 0..<p.count { v[i] = origin[o + i] + step * direction[o + i] }
            o += p.count
        }
    }

    /// The gradients of the last evaluation, with the penalty's gradient added, into `g`.
    public func gradient(into g: inout [Float]) {
        var o = 0
        let twoL2 = 2 * regularization.l2, l1 = regularization.l1
        for p in parameters {
            let v = p.value.data, d = p.gradient.data
            if p.decays && regularization.isActive {
                for i in 0..<p.count {
                    let x = v[i]
                    g[o + i] = d[i] + twoL2 * x + l1 * (x > 0 ? 1 : (x < 0 ? -1 : 0))
                }
            } else {
                for i in 0..<p.count { g[o + i] = d[i] }
            }
            o += p.count
        }
    }

    /// Evaluates `objective` at the current θ: the loss plus the penalty, the penalised
    /// gradient in `g`.
    public func evaluate(_ objective: Objective, gradient g: inout [Float]) throws -> Double {
        let loss = try objective()
        gradient(into: &g)
        return loss + regularization.penalty(parameters)
    }
}

/// Vector arithmetic on flat Float vectors, accumulated in Double.
public enum Flat {
    public static func dot(_ a: [Float], _ b: [Float]) -> Double {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                var s0 = 0.0, s1 = 0.0
                var i = 0
                while i + 1 < a.count {
                    s0 += Double(a[i]) * Double(b[i])
                    s1 += Double(a[i + 1]) * Double(b[i + 1])
                    i += 2
                }
                if i < a.count { s0 += Double(a[i]) * Double(b[i]) }
                return s0 + s1
            }
        }
    }

    /// max |aᵢ|.
    public static func maxAbs(_ a: [Float]) -> Double {
        var m: Float = 0
        for x in a { m = max(m, abs(x)) }
        return Double(m)
    }

    /// Σ |aᵢ|.
    public static func sumAbs(_ a: [Float]) -> Double {
        var s = 0.0
        for x in a { s += Double(abs(x)) }
        return s
    }

    /// y += α·x.
    public static func axpy(_ alpha: Double, _ x: [Float], _ y: inout [Float]) {
        let a = Float(alpha)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                for i in 0..<y.count { y[i] += a * x[i] }
            }
        }
    }

    /// x *= α.
    public static func scale(_ x: inout [Float], by alpha: Double) {
        let a = Float(alpha)
        x.withUnsafeMutableBufferPointer { x in
            for i in 0..<x.count { x[i] *= a }
        }
    }

    /// `out` = a − b.
    public static func difference(_ a: [Float], _ b: [Float], into out: inout [Float]) {
        for i in 0..<out.count { out[i] = a[i] - b[i] }
    }

    /// A state vector as a checkpoint tensor (shape [n]).
    public static func tensor(_ x: [Float]) -> Tensor { Tensor(shape: [x.count], values: x) }
}

/// Scalars of an optimizer's state, kept as exact decimal strings in the checkpoint's
/// metadata (a Double's `description` reads back to the same bits).
public struct StateScalars {
    public var values: [String: String] = [:]
    let prefix: String

    public init(prefix: String, values: [String: String] = [:]) {
        self.prefix = prefix
        self.values = values.filter { $0.key.hasPrefix(prefix + ".") }
    }

    public mutating func set(_ name: String, _ value: Double) { values[prefix + "." + name] = value.description }
    public mutating func set(_ name: String, _ value: Int) { values[prefix + "." + name] = String(value) }

    /// The Double `name`, or an error naming it when it is missing or not a number.
    public func double(_ name: String, optimizer: String) throws(OptimizerStateError) -> Double {
        guard let s = values[prefix + "." + name], let v = Double(s) else {
            throw .missingTensor(name: prefix + "." + name + " (metadata)", optimizer: optimizer)
        }
        return v
    }

    public func int(_ name: String, optimizer: String) throws(OptimizerStateError) -> Int {
        guard let s = values[prefix + "." + name], let v = Int(s), v >= 0 else {
            throw .missingTensor(name: prefix + "." + name + " (metadata)", optimizer: optimizer)
        }
        return v
    }
}

/// What L-BFGS, conjugate gradient and Newton–CG share: the iteration and evaluation
/// limits and tolerances (PyTorch's LBFGS names), the evaluation counters, and a line
/// search along a direction from the current θ.
open class LineSearchOptimizer: ClosureOptimizer {
    open var kind: String { "LineSearchOptimizer" }
    /// Scales the first trial step of each line search (PyTorch's LBFGS `lr`, default 1).
    public var learningRate: Float
    public var regularization: Regularization
    public internal(set) var stepCount = 0
    public internal(set) var evaluations = 0
    public internal(set) var iterations = 0
    public internal(set) var converged: String?
    /// Iterations (directions) per step.
    public let maxIterations: Int
    /// Evaluations of the objective per step.
    public let maxEvaluations: Int
    /// The step ends when max |∇f| falls to this.
    public let toleranceGrad: Double
    /// The step ends when the loss or θ changes less than this.
    public let toleranceChange: Double
    /// The line search; nil takes fixed steps of `learningRate` (L-BFGS only).
    public let lineSearch: StrongWolfe?

    /// The penalised gradient at the current θ.
    var gradient: [Float] = []
    /// θ where the current line search started, and the gradient there.
    var origin: [Float] = []
    var originGradient: [Float] = []

    public init(learningRate: Float, regularization: Regularization, maxIterations: Int, maxEvaluations: Int?,
                toleranceGrad: Double, toleranceChange: Double, lineSearch: StrongWolfe?) {
        precondition(learningRate > 0 && learningRate.isFinite, "\(Self.self): learning rate must be positive, got \(learningRate)")
        precondition(maxIterations >= 1, "\(Self.self): max_iter must be at least 1")
        self.learningRate = learningRate
        self.regularization = regularization
        self.maxIterations = maxIterations
        self.maxEvaluations = max(1, maxEvaluations ?? maxIterations * 5 / 4)
        self.toleranceGrad = toleranceGrad
        self.toleranceChange = toleranceChange
        self.lineSearch = lineSearch
    }

    @discardableResult
    open func step(_ parameters: [Parameter], objective: Objective) throws -> Double {
        fatalError("\(kind) must override step(_:objective:)")
    }

    /// The start of every step: counts it, evaluates the objective at θ into `gradient`.
    /// `done` when the gradient already meets `tolerance_grad` (`converged` says so);
    /// `atStart` is the evaluation count before the step, for its `max_eval` budget.
    func beginStep(_ parameters: [Parameter], _ objective: Objective) throws
        -> (flat: FlatParameters, loss: Double, atStart: Int, done: Bool) {
        let flat = FlatParameters(parameters, regularization: regularization)
        stepCount += 1
        converged = nil
        if gradient.count != flat.count { gradient = [Float](repeating: 0, count: flat.count) }
        let atStart = evaluations
        let loss = try evaluate(flat, objective, gradient: &gradient)
        let done = Flat.maxAbs(gradient) <= toleranceGrad
        if done { converged = "max |gradient| below tolerance_grad" }
        return (flat, loss, atStart, done)
    }

    /// Evaluates the objective at the current θ (counted), the penalised gradient into `g`.
    func evaluate(_ flat: FlatParameters, _ objective: Objective, gradient g: inout [Float]) throws -> Double {
        evaluations += 1
        return try flat.evaluate(objective, gradient: &g)
    }

    /// Searches along `direction` from the current θ (objective `f0`, gradient `g`),
    /// first trying step `initial`. On return θ is at the accepted step, `g` holds the
    /// gradient there; returns the objective and the step (0 when nothing decreased f).
    func search(_ flat: FlatParameters, _ objective: Objective, f0: Double, gradient g: inout [Float],
                direction: [Float], initial: Double, search: StrongWolfe) throws -> (f: Double, t: Double) {
        if origin.count != flat.count { origin = [Float](repeating: 0, count: flat.count) }
        flat.read(into: &origin)
        originGradient = g
        let slope0 = Flat.dot(g, direction)
        var budget = search
        budget.maxEvaluations = min(search.maxEvaluations, max(1, maxEvaluations))
        let result = try budget.search(f0: f0, slope0: slope0, initial: initial, directionMax: Flat.maxAbs(direction)) { t in
            flat.move(from: origin, by: t, along: direction)
            let f = try evaluate(flat, objective, gradient: &g)
            return (f, Flat.dot(g, direction))
        }
        let p = result.point
        if p.t == 0 {
            flat.write(origin)
            g = originGradient
            return (f0, 0)
        }
        if !result.isLastEvaluated {
            flat.move(from: origin, by: p.t, along: direction)
            let f = try evaluate(flat, objective, gradient: &g)
            return (f, p.t)
        }
        return (p.f, p.t)
    }

    /// The end of one iteration: whether the step stops here, and why (set in `converged`
    /// when a tolerance was met).
    func shouldStop(iteration: Int, evaluationsAtStart: Int, gradient g: [Float], direction: [Float],
                    stepSize t: Double, loss: Double, previousLoss: Double) -> Bool {
        if t == 0 { converged = "the line search found no decrease"; return true }
        if Flat.maxAbs(g) <= toleranceGrad { converged = "max |gradient| below tolerance_grad"; return true }
        if Flat.maxAbs(direction) * abs(t) <= toleranceChange { converged = "step below tolerance_change"; return true }
        if abs(loss - previousLoss) < toleranceChange { converged = "loss change below tolerance_change"; return true }
        return iteration >= maxIterations || evaluations - evaluationsAtStart >= maxEvaluations
    }

    /// The iteration counters as metadata under `prefix` (`lbfgs.iterations`).
    func counterScalars(_ prefix: String) -> StateScalars {
        var s = StateScalars(prefix: prefix)
        s.set("iterations", iterations)
        s.set("evaluations", evaluations)
        return s
    }

    open func stateTensors() -> [String: Tensor] { [:] }
    open func stateMetadata() -> [String: String] { [:] }

    public func loadState(_ tensors: [String: Tensor], step: Int, parameters: [Parameter]) throws(OptimizerStateError) {
        try loadState(tensors, metadata: [:], step: step, parameters: parameters)
    }

    open func loadState(_ tensors: [String: Tensor], metadata: [String: String], step: Int,
                        parameters: [Parameter]) throws(OptimizerStateError) {
        fatalError("\(kind) must override loadState(_:metadata:step:parameters:)")
    }

    /// Checks a state vector against θ's length.
    func vector(_ tensors: [String: Tensor], _ name: String, count: Int) throws(OptimizerStateError) -> [Float] {
        guard let t = tensors[name] else { throw .missingTensor(name: name, optimizer: kind) }
        guard t.shape == [count] else { throw .shapeMismatch(name: name, expected: [count], found: t.shape) }
        return t.scalars
    }

    /// Throws for a tensor that is not one of `known`.
    func rejectUnknown(_ tensors: [String: Tensor], known: Set<String>) throws(OptimizerStateError) {
        if let extra = tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw .unexpectedTensor(name: extra, optimizer: kind)
        }
    }
}
