// Learning-rate schedules: a value mapping a step index to a learning rate.
//
// Steps count optimizer updates from 0. An optional linear warm-up takes the first W
// steps, at base·(s + 1)/W for step s, so step W − 1 reaches the base rate (and step 0
// is not wasted at rate 0). The decay then starts at its own step 0 = global step W:
//   constant   base
//   step       base·γ^⌊s/k⌋                                  (PyTorch StepLR)
//   cosine     η_min + (base − η_min)·(1 + cos(π·s/T))/2 for s ≤ T, η_min after
//              (Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm
//              Restarts", ICLR 2017, one cycle without restarts; PyTorch
//              CosineAnnealingLR). Warm-up as in Goyal et al., "Accurate, Large
//              Minibatch SGD: Training ImageNet in 1 Hour" (2017).
// The base rate is the optimizer's configured rate, passed in, so a config states it
// once; before each update the trainer sets
//   optimizer.learningRate = schedule.rate(at: optimizer.stepCount, base: baseRate). Config form (YAML), keys snake_case:
//   schedule: { kind: cosine, decay_steps: 10000, min_rate: 0.0001, warmup_steps: 500 }
//   schedule: { kind: step, step_size: 30, gamma: 0.1 }
import Foundation

/// A warm-up followed by a decay; maps a step index and the base rate to a rate.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    /// How the rate evolves after the warm-up; `s` counts steps after the warm-up.
    public enum Decay: Equatable, Sendable {
        /// The base rate throughout.
        case constant
        /// Multiplied by `gamma` every `every` steps.
        case step(every: Int, gamma: Float)
        /// Half a cosine from the base rate down to `minimum` over `steps` steps, then flat.
        case cosine(steps: Int, minimum: Float)
    }

    /// The decay after the warm-up.
    public var decay: Decay
    /// W, the number of linear warm-up steps (0: none).
    public var warmupSteps: Int

    /// A schedule of `decay` after `warmupSteps` steps of linear warm-up.
    public init(_ decay: Decay = .constant, warmupSteps: Int = 0) {
        precondition(warmupSteps >= 0, "LearningRateSchedule: warm-up steps must be non-negative, got \(warmupSteps)")
        switch decay {
        case .constant: break
        case let .step(every, gamma):
            precondition(every > 0, "LearningRateSchedule: step decay needs a positive step size, got \(every)")
            precondition(gamma > 0 && gamma.isFinite, "LearningRateSchedule: gamma must be positive, got \(gamma)")
        case let .cosine(steps, minimum):
            precondition(steps > 0, "LearningRateSchedule: cosine decay needs positive steps, got \(steps)")
            precondition(minimum >= 0 && minimum.isFinite, "LearningRateSchedule: minimum rate must be non-negative, got \(minimum)")
        }
        self.decay = decay
        self.warmupSteps = warmupSteps
    }

    /// The base rate at every step.
    public static let constant = LearningRateSchedule()

    /// The rate for step `step` (0 for the first update) given the base rate.
    public func rate(at step: Int, base: Float) -> Float {
        precondition(step >= 0, "LearningRateSchedule: step must be non-negative, got \(step)")
        if step < warmupSteps {
            return Float(Double(base) * Double(step + 1) / Double(warmupSteps))
        }
        let s = step - warmupSteps
        switch decay {
        case .constant:
            return base
        case let .step(every, gamma):
            return Float(Double(base) * pow(Double(gamma), Double(s / every)))
        case let .cosine(steps, minimum):
            if s >= steps { return minimum }
            let progress = Double(s) / Double(steps)
            return Float(Double(minimum) + Double(base - minimum) * 0.5 * (1 + cos(Double.pi * progress)))
        }
    }

    // MARK: Codable, in the flat form a config file uses.

    /// The schedule kinds a config can name.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case constant, step, cosine
    }

    /// The kind of `decay`.
    public var kind: Kind {
        switch decay {
        case .constant: .constant
        case .step: .step
        case .cosine: .cosine
        }
    }

    enum CodingKeys: String, CodingKey {
        case kind, gamma
        case stepSize = "step_size"
        case decaySteps = "decay_steps"
        case minRate = "min_rate"
        case warmupSteps = "warmup_steps"
    }

    /// Decodes `kind` (`constant`, `step` with `step_size` and optional `gamma`, default
    /// 0.1, or `cosine` with `decay_steps` and optional `min_rate`, default 0) and an
    /// optional `warmup_steps`; values out of range are errors naming the key.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(Kind.self, forKey: .kind)
        func bad(_ key: CodingKeys, _ why: String) -> DecodingError {
            DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: why)
        }
        let warmup = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? 0
        guard warmup >= 0 else { throw bad(.warmupSteps, "warmup_steps must be non-negative, got \(warmup)") }
        switch kind {
        case .constant:
            decay = .constant
        case .step:
            let every = try c.decode(Int.self, forKey: .stepSize)
            let gamma = try c.decodeIfPresent(Float.self, forKey: .gamma) ?? 0.1
            guard every > 0 else { throw bad(.stepSize, "step_size must be positive, got \(every)") }
            guard gamma > 0 && gamma.isFinite else { throw bad(.gamma, "gamma must be positive, got \(gamma)") }
            decay = .step(every: every, gamma: gamma)
        case .cosine:
            let steps = try c.decode(Int.self, forKey: .decaySteps)
            let minimum = try c.decodeIfPresent(Float.self, forKey: .minRate) ?? 0
            guard steps > 0 else { throw bad(.decaySteps, "decay_steps must be positive, got \(steps)") }
            guard minimum >= 0 && minimum.isFinite else {
                throw bad(.minRate, "min_rate must be non-negative, got \(minimum)")
            }
            decay = .cosine(steps: steps, minimum: minimum)
        }
        warmupSteps = warmup
    }

    /// Encodes the flat config form, with only the keys of this kind.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        switch decay {
        case .constant: break
        case let .step(every, gamma):
            try c.encode(every, forKey: .stepSize)
            try c.encode(gamma, forKey: .gamma)
        case let .cosine(steps, minimum):
            try c.encode(steps, forKey: .decaySteps)
            try c.encode(minimum, forKey: .minRate)
        }
        if warmupSteps > 0 { try c.encode(warmupSteps, forKey: .warmupSteps) }
    }
}
