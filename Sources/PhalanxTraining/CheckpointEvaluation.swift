// Evaluates a saved checkpoint on its own: rebuilds the model from the config kept in
// trainer.json, loads the weights and the normalisation, runs a split.
import Foundation
import PhalanxNN

/// Evaluation of a checkpoint directory.
public enum CheckpointEvaluation {
    public struct Result: Sendable {
        public var accuracy: Double
        public var loss: Double
        public var count: Int
        public var step: Int
    }

    /// Loads `checkpoint` (verified), rebuilds its model and evaluates `split`.
    public static func run(checkpoint: URL, split: String = "test", batchSize: Int = 500) throws -> Result {
        let ckpt = try Checkpoint<TrainerState>.load(from: checkpoint, as: TrainerState.self)
        let config = ckpt.trainer.config
        let file = checkpoint.appendingPathComponent(CheckpointLayout.trainer).path
        let fail = { (key: String, message: String) in ConfigError(file: file, key: "config." + key, message) }
        let built = try ModelBuilder.build(config.model, seed: config.seed, fail: fail)
        try ModelState.apply(ckpt.model, to: built.network,
                             file: checkpoint.appendingPathComponent(CheckpointLayout.model).path)
        let data = try TrainingData.load(config, normalization: ckpt.trainer.normalization, fail: fail)
        let t = config.train
        let kind = LossKind(rawValue: t.loss == "softmax_cross_entropy" ? "cross_entropy" : t.loss) ?? .crossEntropy
        let dataset: PhalanxData.Dataset
        switch split {
        case "validation":
            guard let v = data.validation else { throw fail("data.validation", "this run held out no validation split") }
            dataset = v
        case "train": dataset = data.train
        default: dataset = data.test
        }
        let r = try Evaluation.run(built.network, on: dataset, normalization: data.normalization,
                                   loss: kind.makeLoss(), kind: kind, batchSize: batchSize)
        return Result(accuracy: r.accuracy, loss: r.loss, count: r.count, step: ckpt.step)
    }
}

import PhalanxData
