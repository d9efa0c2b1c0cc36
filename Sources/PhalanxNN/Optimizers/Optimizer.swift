// Optimizers: the protocol the trainer drives, and the base class that keeps
// per-parameter state by parameter name.
//
// In the spirit of mlx-swift's OptimizerBase, a concrete optimizer supplies only the
// names of its state slots ("new state for a parameter": zero tensors of the
// parameter's shape) and one update kernel ("apply one update"). The base class does
// the rest: it skips frozen parameters, folds the L1/L2 penalty into the gradient,
// splits large tensors over the cores, counts steps, and exposes the state as a flat
// map "<parameter>.<slot>" → tensor (`fc1.weight.exp_avg`) for checkpoints.
//
// Every rank runs the same step on the same averaged gradients, so the state stays
// identical across ranks without ever being communicated.
import PhalanxCore

/// Updates parameters from their gradients; the trainer calls `step` once per batch.
public protocol Optimizer: AnyObject {
    /// The optimizer's name as users see it in configs and messages (`Adam`).
    var kind: String { get }
    /// The step size ρ used by the next `step` (a schedule sets it before each step).
    var learningRate: Float { get set }
    /// L1/L2 penalties folded into the gradient of parameters that decay.
    var regularization: Regularization { get set }
    /// How many steps have been taken (restored by `loadState`).
    var stepCount: Int { get }
    /// Applies one update to every parameter with `requiresGrad`, from its gradient.
    func step(_ parameters: [Parameter])
    /// The state, named `<parameter>.<slot>`; the tensors are live and change with the
    /// next step, so a checkpoint writer must write (or copy) them before stepping.
    func stateTensors() -> [String: Tensor]
    /// Replaces the state with `tensors` (copied) and the step count with `step`,
    /// checking them against `parameters`; on error the optimizer is left unchanged.
    func loadState(_ tensors: [String: Tensor], step: Int,
                   parameters: [Parameter]) throws(OptimizerStateError)
    /// Scalars of the state that are not tensors (a line search's last step size), as
    /// exact strings for the checkpoint's metadata; none for the first-order optimizers.
    func stateMetadata() -> [String: String]
    /// `loadState` with the metadata `stateMetadata` wrote.
    func loadState(_ tensors: [String: Tensor], metadata: [String: String], step: Int,
                   parameters: [Parameter]) throws(OptimizerStateError)
}

extension Optimizer {
    public func stateMetadata() -> [String: String] { [:] }
    public func loadState(_ tensors: [String: Tensor], metadata: [String: String], step: Int,
                          parameters: [Parameter]) throws(OptimizerStateError) {
        try loadState(tensors, step: step, parameters: parameters)
    }
}

/// Optimizer state that does not fit the parameters it is loaded for.
public enum OptimizerStateError: Error, Equatable, CustomStringConvertible {
    /// The tensor `name` that `optimizer` needs is not in the state.
    case missingTensor(name: String, optimizer: String)
    /// The tensor `name` has shape `found` where the parameter has `expected`.
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    /// The state holds `name`, which belongs to no parameter and slot of `optimizer`.
    case unexpectedTensor(name: String, optimizer: String)
    /// A negative step count.
    case negativeStep(Int)

    public var description: String {
        switch self {
        case let .missingTensor(name, optimizer):
            "optimizer state: \(optimizer) needs tensor '\(name)', which is missing"
        case let .shapeMismatch(name, expected, found):
            "optimizer state: tensor '\(name)' has shape \(describe(found)), the parameter has \(describe(expected))"
        case let .unexpectedTensor(name, optimizer):
            "optimizer state: tensor '\(name)' matches no parameter and slot of \(optimizer) (another optimizer, or a renamed layer?)"
        case let .negativeStep(step):
            "optimizer state: step count \(step) is negative"
        }
    }
}

/// Shared machinery of the optimizers: subclasses override `kind`, `slotNames` and
/// `update(value:gradient:slots:range:step:)`.
open class OptimizerBase: Optimizer {
    open var kind: String { "Optimizer" }
    public var learningRate: Float
    public var regularization: Regularization
    public private(set) var stepCount = 0

    /// Per-parameter state, keyed by parameter name, in `slotNames` order.
    private var state: [String: [Tensor]] = [:]
    /// The penalised gradient of the parameter being updated, reused.
    private var penalized: Tensor?

    /// Sets the step size and penalties.
    public init(learningRate: Float, regularization: Regularization) {
        precondition(learningRate >= 0 && learningRate.isFinite,
                     "Optimizer: learning rate must be finite and non-negative, got \(learningRate)")
        self.learningRate = learningRate
        self.regularization = regularization
    }

    /// The names of the per-parameter state tensors, each shaped like the parameter and
    /// starting at zero (`["exp_avg", "exp_avg_sq"]`); none by default.
    open var slotNames: [String] { [] }

    /// Applies one update to elements `range` of a parameter: `value` and the `slots`
    /// (in `slotNames` order) are updated in place from `gradient`, for the `step`-th
    /// step (1 on the first). Called concurrently on disjoint ranges.
    open func update(value: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                     slots: [Tensor], range: Range<Int>, step: Int) {
        fatalError("\(kind) must override update(value:gradient:slots:range:step:)")
    }

    public func step(_ parameters: [Parameter]) {
        stepCount += 1
        let t = stepCount
        for p in parameters where p.requiresGrad {
            let slots = slots(for: p)
            var g = p.gradient
            if p.decays && regularization.isActive {
                g = Tensor.reuse(&penalized, shape: [p.count])
                regularization.penalizedGradient(value: p.value, gradient: p.gradient, into: g)
            }
            let value = p.value.data, gradient = UnsafePointer(g.data)
            Parallel.forEach(p.count, grain: Vector.grain) { r in
                update(value: value, gradient: gradient, slots: slots, range: r, step: t)
            }
        }
    }

    /// The state of `p`, made (zero-filled) on its first update.
    private func slots(for p: Parameter) -> [Tensor] {
        if let s = state[p.name] {
            precondition(s.allSatisfy { $0.shape == p.value.shape },
                         "\(kind): parameter '\(p.name)' is \(describe(p.value.shape)) but its state is \(describe(s.first?.shape ?? []))")
            return s
        }
        let s = slotNames.map { _ in Tensor(shape: p.value.shape) }
        state[p.name] = s
        return s
    }

    public func stateTensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        let names = slotNames
        for (parameter, slots) in state {
            for (slot, tensor) in zip(names, slots) { out[parameter + "." + slot] = tensor }
        }
        return out
    }

    /// Every trainable parameter must have all its slots, except before the first step
    /// (`step == 0`), when a parameter may have none; no other tensor may be present.
    public func loadState(_ tensors: [String: Tensor], step: Int,
                          parameters: [Parameter]) throws(OptimizerStateError) {
        guard step >= 0 else { throw .negativeStep(step) }
        var loaded: [String: [Tensor]] = [:]
        var used = Set<String>()
        let names = slotNames
        for p in parameters where p.requiresGrad && !names.isEmpty {
            let keys = names.map { p.name + "." + $0 }
            if step == 0 && keys.allSatisfy({ tensors[$0] == nil }) { continue }
            var slots: [Tensor] = []
            for key in keys {
                guard let tensor = tensors[key] else { throw .missingTensor(name: key, optimizer: kind) }
                guard tensor.shape == p.value.shape else {
                    throw .shapeMismatch(name: key, expected: p.value.shape, found: tensor.shape)
                }
                slots.append(tensor.copy())
                used.insert(key)
            }
            loaded[p.name] = slots
        }
        if let extra = tensors.keys.sorted().first(where: { !used.contains($0) }) {
            throw .unexpectedTensor(name: extra, optimizer: kind)
        }
        state = loaded
        stepCount = step
    }
}
