// The task protocol: what one kind of learning supplies to the one training loop.
//
// The split follows PyTorch Lightning's LightningModule / Trainer and Caffe's Net /
// Solver: the loop (TrainingLoop) owns epochs, steps, the learning-rate schedule,
// clipping, the optimizer step, the gradient reducer, non-finite checks, progress,
// metrics, checkpoints, early stopping, resume and the summary; a task owns its data,
// its model, its batches (this rank's part of each global batch), forward / loss /
// backward, the metrics it evaluates and any state of its own that a checkpoint keeps.
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxNN

/// Which way a metric improves.
public enum MetricDirection: String, Codable, Sendable {
    /// Higher is better (accuracy).
    case max
    /// Lower is better (loss, bits per character).
    case min

    /// Whether `value` beats `best` by more than `delta`.
    public func improves(_ value: Double, on best: Double?, delta: Double = 0) -> Bool {
        guard value.isFinite else { return false }
        guard let best else { return true }
        return self == .max ? value > best + delta : value < best - delta
    }
}

/// A metric a task reports for a split: `accuracy` of the split `validation` is
/// `validation_accuracy` in summaries, sweeps and `checkpoint.monitor`.
public struct MetricSpec: Sendable, Equatable {
    /// The name within a split (`accuracy`, `loss`, `bits_per_char`).
    public let name: String
    public let direction: MetricDirection
    /// How the epoch line shows it (`acc`, `bits/char`).
    public let label: String

    public init(_ name: String, _ direction: MetricDirection, label: String) {
        self.name = name; self.direction = direction; self.label = label
    }

    /// Every task's loss.
    public static let loss = MetricSpec("loss", .min, label: "loss")
}

/// The splits a task can evaluate.
public enum Split: String, Sendable, CaseIterable {
    case train, validation, test
}

/// What one training step produced on this rank.
public struct StepOutput: Sendable {
    /// This rank's part of the global batch's mean loss (its sum over its units divided
    /// by the global batch's units); the ranks' parts add up to the batch's mean.
    public var loss: Double
    /// The units (samples, characters, tokens) the batch's mean loss averages over, on all ranks.
    public var globalUnits: Int
    /// The units of this rank's part.
    public var units: Int
    /// Samples of this rank's part (throughput is samples per second).
    public var samples: Int
    /// Units predicted right on this rank, for a training accuracy (nil: none).
    public var correct: Int?

    public init(loss: Double, globalUnits: Int, units: Int, samples: Int, correct: Int? = nil) {
        self.loss = loss; self.globalUnits = globalUnits; self.units = units; self.samples = samples
        self.correct = correct
    }
}

/// What the loop hands a task: the config, this rank's place, where the run writes.
public struct TaskContext {
    public let loaded: LoadedConfig
    public let communicator: Communicator
    public let options: TrainOptions
    /// Images to show with the run's metrics (rank 0 adds its sample grids here; the loop
    /// writes them to the TensorBoard event file at the epoch's step).
    public let images = RunImages()
    public var config: ExperimentConfig { loaded.config }
    /// A config error about a dotted key, located in the config file.
    public var fail: (String, String) -> ConfigError { loaded.error }
    /// `<checkpoint.directory>/<name>`.
    public var runDirectory: URL {
        URL(fileURLWithPath: config.checkpoint.directory).appendingPathComponent(config.name)
    }
    public var isRoot: Bool { communicator.rank == 0 }

    /// Rank r's part lo..<hi of `count` items shared as evenly as possible.
    public func share(_ count: Int) -> Range<Int> {
        (communicator.rank * count / communicator.size)..<((communicator.rank + 1) * count / communicator.size)
    }

    /// Runs `body` on rank 0 and gives its numbers to every rank (for metrics only rank 0
    /// computes, such as a held-out text read as one stream).
    public func onRoot(_ count: Int, _ body: () throws -> [Double]) throws -> [Double] {
        var values = isRoot ? try body() : [Double](repeating: 0, count: count)
        guard communicator.size > 1 else { return values }
        try values.withUnsafeMutableBytes { try communicator.broadcast($0, root: 0) }
        return values
    }
}

/// A checkpoint a task resumes from: its own saved state, and the file it came from.
public struct SavedTaskState<State> {
    public let state: State
    /// The checkpoint's trainer.json (for error messages).
    public let file: String
}

/// One kind of learning, trained by `TrainingLoop`.
///
/// A task is built from the config (its `data` and `model` sections are its own) and,
/// on resume, its saved state; the loop then restores the weights and optimizer state.
/// A new task is one file: a type conforming to this protocol and a `TaskKind` entry
/// registered in `TaskRegistry` (see docs/ARCHITECTURE.md, "Adding a task").
public protocol TrainingTask: AnyObject, SendableMetatype {
    /// What the task keeps in trainer.json beside the loop's own fields (vocabulary,
    /// sampler position, normalisation); its keys sit next to the loop's.
    associatedtype State: Codable

    /// Builds data and model for this rank. `saved` is the state of the checkpoint the
    /// run resumes from.
    init(_ context: TaskContext, saved: SavedTaskState<State>?) throws

    /// The network whose parameters the loop's optimizer steps (buffers are saved too).
    var network: Layer { get }
    /// The metrics `evaluate` reports for a split, in the order the epoch line shows them.
    static var metrics: [MetricSpec] { get }
    /// A split's metrics with those computed from others added (bits per character
    /// from the loss); the loop applies it to the training split's loss and accuracy.
    static func derived(_ metrics: [String: Double]) -> [String: Double]
    /// `derived` as this task instance computes it (a language model's figures depend on
    /// its tokens: bits per character, or perplexity per word). Default: `derived`.
    func derivedMetrics(_ metrics: [String: Double]) -> [String: Double]
    /// The metric watched for `best` and early stopping unless `checkpoint.monitor` says
    /// otherwise (`validation_accuracy`).
    static var defaultMonitor: String { get }
    /// The splits `evaluate` accepts besides training (validation each epoch, test at the end).
    var splits: [Split] { get }
    /// Unit of the throughput shown (`img/s`, `chars/s`).
    var unit: String { get }
    /// Global batches (optimizer steps) per epoch, the same on every rank.
    var batchesPerEpoch: Int { get }
    /// Whether a checkpoint taken inside an epoch resumes exactly (the batches of an
    /// epoch depend only on seed, epoch and position, and `savedState` says where).
    /// A task that carries state from batch to batch (truncated BPTT) stops at the end
    /// of the epoch instead when a signal asks it to.
    var resumesMidEpoch: Bool { get }
    /// Whether `computeGradients` may be called again for the same batch and computes the
    /// same objective (what lbfgs, cg and newton need): not for a task that carries state
    /// from one call to the next. Default: true.
    var batchesRepeatable: Bool { get }
    /// A line about data and model, printed once at the start.
    var description: String { get }
    /// What every rank must have alike before training (sizes and checksums of the
    /// data); under mpirun a difference stops every rank, naming both. Default: `description`.
    var fingerprint: String { get }

    /// Prepares epoch `epoch` (1-based): its order, its streams' state. A run resumed
    /// inside an epoch continues with batch `RunState.batch` of it.
    func startEpoch(_ epoch: Int) throws
    /// Forward, loss and backward of this rank's part of batch `index` of the epoch:
    /// the parameters' gradients accumulate (the loop zeroed them), normalised by the
    /// global batch so that the ranks' sum is the global gradient.
    func computeGradients(batch index: Int) throws -> StepOutput
    /// One training step. The default runs the loop's standard update around
    /// `computeGradients`; a task that owns its update (two optimizers, a closed form,
    /// a line search evaluating one batch several times) implements this with the
    /// pieces `step` offers.
    func trainStep(batch index: Int, step: StandardStep) throws -> StepOutput
    /// The optimizer the loop steps, saves and restores; default: `train.optimizer` over all
    /// parameters (a GAN: one per network, `PartitionedOptimizer`).
    func makeOptimizer(_ config: ExperimentConfig, fail: (String, String) -> ConfigError) throws -> Optimizer
    /// Called after the epoch's last step (save sampler positions and the like).
    func endEpoch(_ epoch: Int) throws
    /// Called on every rank after the epoch's evaluation (sample images for people to look at).
    func epochEvaluated(_ epoch: Int) throws
    /// The metrics of `split`, the same on every rank (every rank calls it).
    func evaluate(_ split: Split) throws -> [String: Double]
    /// The state to save with a checkpoint now.
    func savedState() -> State
    /// Lines printed after the final evaluation (examples, what to run next).
    func report(checkpoint: URL?) -> [String]
    /// Figures summary.json carries besides the metrics, under the names scripts read
    /// (`train_samples_per_sec`; a language model's `held_out_bits_per_character`).
    func summaryFields(metrics: [String: Double], samplesPerSec: Double) -> [String: Double]
}

extension TrainingTask {
    public func trainStep(batch index: Int, step: StandardStep) throws -> StepOutput {
        try step.run { try computeGradients(batch: index) }
    }
    public func endEpoch(_ epoch: Int) throws {}
    public func makeOptimizer(_ config: ExperimentConfig, fail: (String, String) -> ConfigError) throws -> Optimizer {
        try OptimizerFactory.make(config.train, fail: fail)
    }
    public func epochEvaluated(_ epoch: Int) throws {}
    public var resumesMidEpoch: Bool { false }
    public var batchesRepeatable: Bool { true }
    public var fingerprint: String { description }
    public static func derived(_ metrics: [String: Double]) -> [String: Double] { metrics }
    public func derivedMetrics(_ metrics: [String: Double]) -> [String: Double] { Self.derived(metrics) }
    public func report(checkpoint: URL?) -> [String] { [] }
    public func summaryFields(metrics: [String: Double], samplesPerSec: Double) -> [String: Double] {
        ["train_samples_per_sec": samplesPerSec]
    }
    public static var metricNames: [String] {
        Split.allCases.flatMap { s in metrics.map { "\(s.rawValue)_\($0.name)" } }
    }
}

/// The loop's standard update, handed to `TrainingTask.trainStep`: zero the gradients,
/// compute them, sum them over the ranks, clip, step the optimizer at the scheduled rate —
/// or, for an optimizer that evaluates the objective several times (lbfgs, cg, newton),
/// hand it the objective "zero, compute, sum" to call as often as it needs.
public struct StandardStep {
    let zero: () -> Void
    let check: (StepOutput) throws -> Void
    let reduce: () throws -> Void
    /// Clips and steps the parameters given (nil: all).
    let apply: ([Parameter]?) -> Void
    /// Runs a closure optimizer's step on an objective (nil: a first-order optimizer).
    let minimize: ((Objective) throws -> Void)?
    /// Sums this rank's part of the loss over the ranks.
    let sum: (Double) throws -> Double

    /// Zeroes the gradients (before a task computes them again).
    public func zeroGradients() { zero() }
    /// Sums this step's gradients over the ranks (each already normalised by the global batch).
    public func reduceGradients() throws { try reduce() }
    /// Clips to `train.clip_norm` and takes the optimizer step at this step's rate.
    public func applyUpdate() { apply(nil) }
    /// The same for `parameters` only (one network of several; their optimizer's own step count).
    public func applyUpdate(to parameters: [Parameter]) { apply(parameters) }

    /// Throws when the step's loss is NaN or infinite (naming step and epoch).
    public func checkFinite(_ output: StepOutput) throws { try check(output) }

    /// zero → `gradients` → finite check → reduce → clip and step; returns what
    /// `gradients` returned. With a closure optimizer, `gradients` runs once per
    /// evaluation of the objective and the first evaluation's output is returned (the
    /// loss before the step, as `torch.optim.LBFGS.step` returns).
    public func run(_ gradients: () throws -> StepOutput) throws -> StepOutput {
        guard let minimize else {
            zero()
            let out = try gradients()
            try check(out)
            try reduce()
            apply(nil)
            return out
        }
        var first: StepOutput?
        try minimize {
            zero()
            let out = try gradients()
            try check(out)
            try reduce()
            if first == nil { first = out }
            return try sum(out.loss)
        }
        guard let first else { fatalError("StandardStep: the optimizer took a step without evaluating the objective") }
        return first
    }
}
