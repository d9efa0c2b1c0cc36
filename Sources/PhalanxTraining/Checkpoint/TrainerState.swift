// What trainer.json holds: enough to continue a run exactly and to evaluate it alone.
import PhalanxCore
import PhalanxData

/// The trainer's side of a checkpoint (`trainer.json`).
public struct TrainerState: Codable, Sendable {
    /// Epochs completed.
    public var epoch: Int
    /// Optimizer steps taken.
    public var step: Int
    /// Where the sampler continues (epoch and next global batch).
    public var sampler: ShardedSampler.State
    /// Random state of each dropout layer, in model order.
    public var dropoutRNG: [RNG]
    /// Normalisation fitted on the training split; evaluation applies the same.
    public var normalization: NormalizationStats?
    /// The resolved config of the run.
    public var config: ExperimentConfig
    /// SHA-256-free stable hash of `config` (FNV-1a of its canonical JSON).
    public var configHash: String
    /// Ranks that trained it.
    public var worldSize: Int
    /// Best validation accuracy so far and the step it was reached at.
    public var bestAccuracy: Double?
    public var bestStep: Int?
    /// Epochs since the validation accuracy last improved (early stopping).
    public var epochsWithoutImprovement: Int
    /// Wall-clock seconds of training so far (across resumes).
    public var elapsed: Double
    /// Per-epoch validation/test records so far.
    public var history: [MetricRecord]

    enum CodingKeys: String, CodingKey {
        case epoch, step, sampler, normalization, config, history, elapsed
        case dropoutRNG = "dropout_rng", configHash = "config_hash", worldSize = "world_size"
        case bestAccuracy = "best_accuracy", bestStep = "best_step"
        case epochsWithoutImprovement = "epochs_without_improvement"
    }
}

extension ExperimentConfig {
    /// A stable hash of the config (FNV-1a 64 over its sorted-keys JSON), hex.
    public var hash: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(self)) ?? Data()
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return String(h, radix: 16)
    }
}

import Foundation
