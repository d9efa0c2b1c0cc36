// What trainer.json holds for every task — the loop's own fields — and how a task's
// fields sit beside them in the same JSON object.
//
// Checkpoints written before the one loop (three trainers, three state types) decode
// too: their best value was `best_accuracy`, `best_bits_per_character` or
// `best_exact_match`, and the sequence trainers kept no hash, history or dropout state.
import Foundation
import PhalanxCore

/// The loop's side of trainer.json.
public struct RunState: Codable, Sendable {
    /// Epochs completed.
    public var epoch: Int
    /// Optimizer steps taken.
    public var step: Int
    /// The next batch of epoch `epoch + 1` when the run stopped inside it (a signal);
    /// 0 at an epoch boundary.
    public var batch: Int
    /// The resolved config of the run.
    public var config: ExperimentConfig
    /// `ExperimentConfig.hash` of `config`.
    public var configHash: String
    /// Ranks that trained it.
    public var worldSize: Int
    /// Wall-clock seconds of training so far (across resumes).
    public var elapsed: Double
    /// The monitored metric (`validation_accuracy`), its best value and the step of it.
    public var monitor: String?
    public var best: Double?
    public var bestStep: Int?
    /// Epochs since the monitored metric last improved (early stopping).
    public var epochsWithoutImprovement: Int
    /// Random state of each dropout layer, in model order (rank 0's streams).
    public var dropoutRNG: [RNG]
    /// Per-epoch validation records so far.
    public var history: [MetricRecord]

    enum CodingKeys: String, CodingKey {
        case epoch, step, batch, config, elapsed, monitor, history
        case configHash = "config_hash", worldSize = "world_size", best = "best_metric", bestStep = "best_step"
        case epochsWithoutImprovement = "epochs_without_improvement", dropoutRNG = "dropout_rng"
        // Written by the trainers before the one loop.
        case bestAccuracy = "best_accuracy", bestBits = "best_bits_per_character", bestExactMatch = "best_exact_match"
    }

    public init(config: ExperimentConfig, worldSize: Int, monitor: String?, dropoutRNG: [RNG]) {
        epoch = 0; step = 0; batch = 0; self.config = config; configHash = config.hash; self.worldSize = worldSize
        elapsed = 0; self.monitor = monitor; best = nil; bestStep = nil; epochsWithoutImprovement = 0
        self.dropoutRNG = dropoutRNG; history = []
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch)
        step = try c.decode(Int.self, forKey: .step)
        batch = try c.decodeIfPresent(Int.self, forKey: .batch) ?? 0
        config = try c.decode(ExperimentConfig.self, forKey: .config)
        configHash = try c.decodeIfPresent(String.self, forKey: .configHash) ?? config.hash
        worldSize = try c.decodeIfPresent(Int.self, forKey: .worldSize) ?? 1
        elapsed = try c.decodeIfPresent(Double.self, forKey: .elapsed) ?? 0
        monitor = try c.decodeIfPresent(String.self, forKey: .monitor)
        bestStep = try c.decodeIfPresent(Int.self, forKey: .bestStep)
        epochsWithoutImprovement = try c.decodeIfPresent(Int.self, forKey: .epochsWithoutImprovement) ?? 0
        dropoutRNG = try c.decodeIfPresent([RNG].self, forKey: .dropoutRNG) ?? []
        history = try c.decodeIfPresent([MetricRecord].self, forKey: .history) ?? []
        if let b = try c.decodeIfPresent(Double.self, forKey: .best) {
            best = b
        } else if let b = try c.decodeIfPresent(Double.self, forKey: .bestAccuracy) {
            best = b; monitor = monitor ?? "validation_accuracy"
        } else if let b = try c.decodeIfPresent(Double.self, forKey: .bestBits) {
            best = b; monitor = monitor ?? "validation_bits_per_char"
        } else if let b = try c.decodeIfPresent(Double.self, forKey: .bestExactMatch) {
            best = b; monitor = monitor ?? "validation_exact_match"
        }
        // Counts that no run writes: a damaged or hand-edited file, refused by field.
        func refuse(_ key: CodingKeys, _ why: String) -> DecodingError {
            DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: why)
        }
        if step < 0 { throw refuse(.step, "step \(step) is negative") }
        if epoch < 0 || epoch > step { throw refuse(.epoch, "epoch \(epoch) is not between 0 and the \(step) steps taken (every epoch takes a step)") }
        if batch < 0 || batch > step { throw refuse(.batch, "batch \(batch) is not between 0 and the \(step) steps taken") }
        if let b = bestStep, b < 0 || b > step { throw refuse(.bestStep, "best_step \(b) is not between 0 and step \(step)") }
        if epochsWithoutImprovement < 0 || epochsWithoutImprovement > epoch {
            throw refuse(.epochsWithoutImprovement, "\(epochsWithoutImprovement) is not between 0 and epoch \(epoch)")
        }
        if worldSize < 1 { throw refuse(.worldSize, "world_size \(worldSize) is below 1") }
        if !(elapsed >= 0 && elapsed.isFinite) { throw refuse(.elapsed, "elapsed \(elapsed) is not a non-negative number of seconds") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(step, forKey: .step)
        if batch > 0 { try c.encode(batch, forKey: .batch) }
        try c.encode(config, forKey: .config)
        try c.encode(configHash, forKey: .configHash)
        try c.encode(worldSize, forKey: .worldSize)
        try c.encode(elapsed, forKey: .elapsed)
        try c.encodeIfPresent(monitor, forKey: .monitor)
        try c.encodeIfPresent(best, forKey: .best)
        try c.encodeIfPresent(bestStep, forKey: .bestStep)
        try c.encode(epochsWithoutImprovement, forKey: .epochsWithoutImprovement)
        try c.encode(dropoutRNG, forKey: .dropoutRNG)
        try c.encode(history, forKey: .history)
        // Readers of classifier checkpoints (TrainerState) know the best by this name.
        if monitor == "validation_accuracy" { try c.encodeIfPresent(best, forKey: .bestAccuracy) }
    }
}

/// trainer.json's `trainer` object: the loop's fields and the task's, side by side.
public struct TaskCheckpointState<TaskState: Codable>: Codable {
    public var run: RunState
    public var task: TaskState

    public init(run: RunState, task: TaskState) { self.run = run; self.task = task }

    public init(from decoder: Decoder) throws {
        run = try RunState(from: decoder)
        task = try TaskState(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        try run.encode(to: encoder)
        try task.encode(to: encoder)
    }
}

/// A task with nothing of its own to save.
public struct NoTaskState: Codable, Sendable {
    public init() {}
    public init(from decoder: Decoder) throws {}
    public func encode(to encoder: Encoder) throws {}
}
