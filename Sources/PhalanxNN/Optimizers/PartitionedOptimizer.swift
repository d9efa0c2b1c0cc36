// One optimizer per part of a model, chosen by parameter-name prefix: a GAN's generator
// and discriminator, each with its own Adam (its own moments and step count).
//
// A task that owns its update steps one part at a time (`step` with that part's
// parameters); the state of all parts is one map, keyed by the full parameter names
// (`generator.fc.weight.exp_avg`), so the checkpoint holds both.
import PhalanxCore

/// Routes each parameter to the optimizer of the longest prefix its name starts with.
public final class PartitionedOptimizer: Optimizer {
    /// The parts: a name prefix (`generator.`) and its optimizer.
    public let parts: [(prefix: String, optimizer: Optimizer)]
    /// Each part's rate relative to the first's (a discriminator's own learning rate).
    let scales: [Float]

    /// The parts, their rates relative to the first part's kept under a schedule.
    public init(_ parts: [(prefix: String, optimizer: Optimizer)]) {
        precondition(!parts.isEmpty, "PartitionedOptimizer: needs at least one part")
        self.parts = parts
        let base = parts[0].optimizer.learningRate
        scales = parts.map { base > 0 ? $0.optimizer.learningRate / base : 1 }
    }

    public var kind: String { parts.map { "\($0.prefix.dropLast(1)): \($0.optimizer.kind)" }.joined(separator: ", ") }

    /// The first part's rate; setting it sets every part's, in proportion (a schedule
    /// scales them together).
    public var learningRate: Float {
        get { parts[0].optimizer.learningRate }
        set { for (p, scale) in zip(parts, scales) { p.optimizer.learningRate = newValue * scale } }
    }

    public var regularization: Regularization {
        get { parts[0].optimizer.regularization }
        set { for p in parts { p.optimizer.regularization = newValue } }
    }

    /// The most steps any part has taken.
    public var stepCount: Int { parts.map(\.optimizer.stepCount).max() ?? 0 }

    /// The index of the part `name` belongs to.
    func part(of name: String) -> Int? {
        parts.indices.filter { name.hasPrefix(parts[$0].prefix) }.max { parts[$0].prefix.count < parts[$1].prefix.count }
    }

    /// Steps each part whose parameters are among `parameters` (once each).
    public func step(_ parameters: [Parameter]) {
        for (i, p) in parts.enumerated() {
            let mine = parameters.filter { part(of: $0.name) == i }
            if !mine.isEmpty { p.optimizer.step(mine) }
        }
    }

    public func stateTensors() -> [String: Tensor] {
        parts.reduce(into: [:]) { all, p in all.merge(p.optimizer.stateTensors()) { a, _ in a } }
    }

    public func loadState(_ tensors: [String: Tensor], step: Int, parameters: [Parameter]) throws(OptimizerStateError) {
        if let stray = tensors.keys.sorted().first(where: { part(of: $0) == nil }) {
            throw .unexpectedTensor(name: stray, optimizer: kind)
        }
        for (i, p) in parts.enumerated() {
            try p.optimizer.loadState(tensors.filter { part(of: $0.key) == i }, step: step,
                                      parameters: parameters.filter { part(of: $0.name) == i })
        }
    }
}
