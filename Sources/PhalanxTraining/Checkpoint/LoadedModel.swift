// A classifier checkpoint loaded for use: its model rebuilt from the config kept in
// trainer.json, its weights and normalisation applied — for `evaluate`, voting and soups.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN

/// A trained model loaded from a checkpoint, ready to predict.
public struct LoadedModel {
    public let checkpoint: URL
    public let step: Int
    /// The trainer state the checkpoint was saved with (config, normalisation, …).
    public let trainer: TrainerState
    public var config: ExperimentConfig { trainer.config }
    public var normalization: NormalizationStats? { trainer.normalization }
    public let network: Layer
    /// The checkpoint's tensors as read (not changed by later changes to `network`).
    public let state: SafeTensors

    /// Loads and verifies `checkpoint`, rebuilds its model from the config kept in it.
    public init(_ checkpoint: URL) throws {
        let ckpt = try Checkpoint<TrainerState>.load(from: checkpoint, as: TrainerState.self)
        trainer = ckpt.trainer
        network = try ModelBuilder.build(trainer.config.model, seed: trainer.config.seed,
                                         fail: LoadedModel.fail(checkpoint)).network
        try ModelState.apply(ckpt.model, to: network, file: checkpoint.appendingPathComponent(CheckpointLayout.model).path)
        state = ckpt.model
        step = ckpt.step
        self.checkpoint = checkpoint
    }

    /// A config error located in the checkpoint's trainer.json (`config.<key>`).
    static func fail(_ checkpoint: URL) -> (String, String) -> ConfigError {
        let file = checkpoint.appendingPathComponent(CheckpointLayout.trainer).path
        return { ConfigError(file: file, key: "config." + $0, $1) }
    }

    /// The data splits of this model's config (normalised with its own statistics).
    public func data() throws -> TrainingData {
        try TrainingData.load(config, normalization: normalization, fail: LoadedModel.fail(checkpoint))
    }

    /// The loss the model was trained with.
    public var lossKind: LossKind {
        let t = config.train
        return LossKind(rawValue: t.loss == "softmax_cross_entropy" ? "cross_entropy" : t.loss) ?? .crossEntropy
    }

    /// The split `test`, `validation` or `train` of this model's data (raw pixels), or an
    /// error naming the key when the run held out no validation split.
    public func dataset(_ split: String, of data: TrainingData) throws -> Dataset {
        switch split {
        case "validation":
            guard let v = data.validation else {
                throw LoadedModel.fail(checkpoint)("data.validation", "this run held out no validation split")
            }
            return v
        case "train": return data.train
        default: return data.test
        }
    }

    /// Class probabilities (softmax of the outputs) `[N, K]` over `dataset`, in evaluation mode.
    public func probabilities(on dataset: Dataset, batchSize: Int = 500) throws -> Tensor {
        try Self.probabilities(network, on: dataset, normalization: normalization, batchSize: batchSize)
    }

    /// The network's outputs (logits) `[N, K]` over `dataset`, in evaluation mode.
    public func logits(on dataset: Dataset, batchSize: Int = 500) throws -> Tensor {
        try Self.logits(network, on: dataset, normalization: normalization, batchSize: batchSize)
    }

    /// Class probabilities of `model` over `dataset`, `[N, K]`.
    public static func probabilities(_ model: Layer, on dataset: Dataset, normalization: NormalizationStats?,
                                     batchSize: Int = 500) throws -> Tensor {
        let logits = try logits(model, on: dataset, normalization: normalization, batchSize: batchSize)
        let p = Tensor(shape: logits.shape)
        softmaxProbabilities(logits, into: p)
        return p
    }

    /// The outputs of `model` over `dataset` (normalised with `normalization`), `[N, K]`.
    public static func logits(_ model: Layer, on dataset: Dataset, normalization: NormalizationStats?,
                              batchSize: Int = 500) throws -> Tensor {
        let k = dataset.classCount
        let out = Tensor(shape: [dataset.count, k])
        var row = 0
        for batch in try EvaluationBatches(dataset: dataset, batchSize: batchSize, normalization: normalization) {
            let logits = model.forward(batch.images, mode: .evaluation)
            guard logits.rank == 2, logits.shape[1] == k else {
                throw ConfigError(file: "<model>", key: "model", "the model outputs \(describe(Array(logits.shape.dropFirst()))) per sample "
                    + "but the data has \(k) classes")
            }
            (out.data + row * k).update(from: logits.data, count: batch.count * k)
            row += batch.count
        }
        return out
    }
}
