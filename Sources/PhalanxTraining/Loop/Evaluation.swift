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

extension Evaluation {
    /// The predicted class of each sample of `dataset` (the largest output) and its softmax
    /// probability, in evaluation mode: what confusion matrices and the pictures of
    /// misclassified examples are made of.
    public static func predictions(_ model: Layer, on dataset: Dataset, normalization: NormalizationStats?,
                                   batchSize: Int = 500) throws -> (classes: [Int], confidence: [Float]) {
        let p = try LoadedModel.probabilities(model, on: dataset, normalization: normalization,
                                              batchSize: max(1, min(batchSize, dataset.count)))
        let k = dataset.classCount
        var classes = [Int](repeating: 0, count: dataset.count), confidence = [Float](repeating: 0, count: dataset.count)
        for i in 0..<dataset.count {
            let row = p.data + i * k
            var best = 0
            for j in 1..<max(k, 1) where row[j] > row[best] { best = j }
            (classes[i], confidence[i]) = (best, row[best])
        }
        return (classes, confidence)
    }
}
