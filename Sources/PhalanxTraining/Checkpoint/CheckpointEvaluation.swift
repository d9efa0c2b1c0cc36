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
        let model = try LoadedModel(checkpoint)
        let data = try model.data()
        let kind = model.lossKind
        let dataset = try model.dataset(split, of: data)
        // A batch larger than the split would only allocate memory it never fills.
        let r = try Evaluation.run(model.network, on: dataset, normalization: data.normalization,
                                   loss: kind.makeLoss(), kind: kind, batchSize: max(1, min(batchSize, dataset.count)))
        return Result(accuracy: r.accuracy, loss: r.loss, count: r.count, step: model.step)
    }
}

import PhalanxData
