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
    /// The dotted keys whose values differ between `other` and this config, each with
    /// both values (`train.optimizer.lr: 0.1 → 0.05`), sorted.
    public func differences(from other: ExperimentConfig) -> [String] {
        func flatten(_ c: ExperimentConfig) -> [String: String] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard let data = try? encoder.encode(c), let json = try? JSONSerialization.jsonObject(with: data) else { return [:] }
            var out: [String: String] = [:]
            func walk(_ v: Any, _ path: String) {
                if let d = v as? [String: Any] {
                    for (k, x) in d { walk(x, path.isEmpty ? k : path + "." + k) }
                } else if let a = v as? [Any] {
                    for (i, x) in a.enumerated() { walk(x, path + ".\(i)") }
                } else {
                    out[path] = "\(v)"
                }
            }
            walk(json, "")
            return out
        }
        let a = flatten(other), b = flatten(self)
        return Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
            .map { "\($0): \(a[$0] ?? "(none)") → \(b[$0] ?? "(none)")" }
    }

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
