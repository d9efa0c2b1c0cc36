// Evaluation: loss and accuracy of a model over a data set, in evaluation mode.
import PhalanxCore
import PhalanxData
import PhalanxNN

/// Loss and accuracy over a data set.
public struct EvaluationResult: Sendable {
    public var loss: Double
    public var accuracy: Double
    public var count: Int
    /// Σ loss·n and the number right, for reducing across ranks.
    public var lossSum: Double
    public var correct: Int
}

/// Runs a model over data without training.
public enum Evaluation {
    /// Evaluates `model` on `dataset` (rank `rank` of `worldSize` takes its shard).
    public static func run(_ model: Layer, on dataset: Dataset, normalization: NormalizationStats?,
                           loss: Loss, kind: LossKind, batchSize: Int,
                           rank: Int = 0, worldSize: Int = 1) throws -> EvaluationResult {
        let batches = try EvaluationBatches(dataset: dataset, batchSize: batchSize, rank: rank,
                                            worldSize: worldSize, normalization: normalization)
        var lossSum = 0.0, correct = 0, count = 0
        let targets = Tensor(shape: [batchSize, dataset.classCount])
        for batch in batches {
            let logits = model.forward(batch.images, mode: .evaluation)
            let target: LossTarget
            if kind == .crossEntropy {
                target = .labels(batch.labels)
            } else {
                targets.resize([batch.count, dataset.classCount])
                oneHot(batch.labels, classCount: dataset.classCount, into: targets)
                target = .values(targets)
            }
            let l = loss.evaluate(logits, target: target, weights: nil, normalizer: nil).loss
            lossSum += Double(l) * Double(batch.count)
            correct += correctCount(logits: logits, labels: batch.labels)
            count += batch.count
        }
        return EvaluationResult(loss: lossSum / Double(max(count, 1)), accuracy: Double(correct) / Double(max(count, 1)),
                                count: count, lossSum: lossSum, correct: correct)
    }
}
