// Image classification (`task: classification`, the default for IDX and Fashion-MNIST
// data): a network from the layer config, softmax cross-entropy (or BCE / MSE on one-hot
// targets), auxiliary classifiers, shuffled sharded batches with augmentation, sharded
// exact evaluation of loss and accuracy.
import Foundation
import PhalanxAnalysis
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxNN

/// Trains a classifier on image data.
public final class ClassificationTask: TrainingTask {
    /// What a classifier checkpoint keeps besides the loop's fields.
    public struct State: Codable, Sendable {
        /// Where the sampler continues (epoch and next global batch).
        public var sampler: ShardedSampler.State
        /// Normalisation fitted on the training split; evaluation applies the same.
        public var normalization: NormalizationStats?
    }

    public static let metrics = [MetricSpec.loss, MetricSpec("accuracy", .max, label: "acc")]
    public static let defaultMonitor = "validation_accuracy"

    let context: TaskContext
    public let network: Layer
    let built: BuiltModel
    let kind: LossKind
    let loss: Loss
    public var data: TrainingData { epochs.data }
    private var epochs: ImageEpochs
    private let targets: Tensor
    private let classes: Int

    public init(_ context: TaskContext, saved: SavedTaskState<State>?) throws {
        self.context = context
        let config = context.config, t = config.train, fail = context.fail, comm = context.communicator
        if t.batchSize % comm.size != 0 {
            throw fail("train.batch_size", "the global batch of \(t.batchSize) does not split evenly over \(comm.size) ranks; "
                + "choose a multiple of \(comm.size)")
        }
        guard let kind = LossKind(rawValue: t.loss == "softmax_cross_entropy" ? "cross_entropy" : t.loss) else {
            throw fail("train.loss", "unknown loss '\(t.loss)'; known: \(LossKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.kind = kind
        built = try ModelBuilder.build(config.model, seed: config.seed, loss: kind, fail: fail)
        try built.checkMemory(samples: t.batchSize / comm.size, fail: fail)
        network = built.network
        loss = kind.makeLoss()
        var data = try TrainingData.load(config, normalization: saved?.state.normalization, fail: fail)
        if let indices = context.options.trainIndices { data = try data.training(on: indices) }
        classes = data.train.classCount
        if kind == .crossEntropy && built.outputShape != [classes] {
            throw fail("model.layers", "the model outputs \(describe(built.outputShape)) per sample but the data has \(classes) classes")
        }
        epochs = try ImageEpochs(data, context: context, saved: saved?.state.sampler)
        targets = Tensor(shape: [t.batchSize, classes])
    }

    deinit { epochs.stop() }

    public var splits: [Split] { data.validation == nil ? [.test] : [.validation, .test] }
    public var unit: String { "img/s" }
    public var batchesPerEpoch: Int { epochs.batchesPerEpoch }
    public var description: String {
        "\(data.train.count) training samples\(data.validation.map { ", \($0.count) validation" } ?? ""), "
            + "\(data.test.count) test"
    }

    /// Sizes, shapes and CRC-32 of every split's images and labels, as this rank read them.
    public var fingerprint: String { data.fingerprint }

    public func startEpoch(_ epoch: Int) throws { try epochs.start() }

    public func computeGradients(batch index: Int) throws -> StepOutput {
        let batch = epochs.next(index, task: "ClassificationTask")
        let target: LossTarget
        if kind == .crossEntropy {
            target = .labels(batch.labels)
        } else {
            targets.resize([batch.count, classes])
            oneHot(batch.labels, classCount: classes, into: targets)
            target = .values(targets)
        }
        for aux in built.auxiliaries {
            aux.target = target
            aux.normalizer = Float(batch.globalCount)
        }
        let logits = network.forward(batch.images, mode: .training)
        let (mainLoss, gradient) = loss.evaluate(logits, target: target, weights: nil, normalizer: Float(batch.globalCount))
        // The training objective: the main loss plus the auxiliary classifiers' weighted losses.
        let l = built.auxiliaries.reduce(mainLoss) { $0 + $1.lastLoss }
        let correct = correctCount(logits: logits, labels: batch.labels)
        if l.isFinite { _ = network.backward(gradient) }
        return StepOutput(loss: Double(l), globalUnits: batch.globalCount, units: batch.count, samples: batch.count,
                          correct: correct)
    }

    public func endEpoch(_ epoch: Int) throws { try epochs.end() }

    /// Loss and accuracy over this rank's shard, sums reduced over the ranks: exact, no padding.
    public func evaluate(_ split: Split) throws -> [String: Double] {
        guard let dataset = epochs.dataset(split) else { return [:] }
        let comm = context.communicator
        let local = try Evaluation.run(network, on: dataset, normalization: data.normalization, loss: loss, kind: kind,
                                       batchSize: max(1, context.config.train.batchSize / comm.size),
                                       rank: comm.rank, worldSize: comm.size)
        let s = try comm.allreduceSum([local.lossSum, Double(local.correct), Double(local.count)])
        let count = max(s[2], 1)
        return ["loss": s[0] / count, "accuracy": s[1] / count]
    }

    /// With TensorBoard on, rank 0 adds the most confident mistakes among the first
    /// `misclassifiedPool` test images as an image (`misclassified`) each epoch: one
    /// evaluation pass over them, a few tenths of a second for LeNet.
    public func epochEvaluated(_ epoch: Int) throws {
        guard context.isRoot, context.config.logging.tensorboard, data.test.count > 0 else { return }
        let pool = data.test.subset(Array(0..<min(data.test.count, Self.misclassifiedPool)))
        let (predicted, confidence) = try Evaluation.predictions(network, on: pool, normalization: data.normalization)
        let wrong = pool.labels.indices.filter { predicted[$0] != Int(pool.labels[$0]) }
            .sorted { confidence[$0] > confidence[$1] }.prefix(Self.misclassifiedShown)
        let names = ClassNames.of(context.config, count: classes)
        let items = wrong.map {
            LabelledImageGrid.Item(index: $0, predicted: names[predicted[$0]], actual: names[Int(pool.labels[$0])])
        }
        guard let canvas = LabelledImageGrid.render(images: pool.images, items: items) else { return }
        try context.images.add(tag: "misclassified", png: try canvas.png())
    }

    static let misclassifiedPool = 1000, misclassifiedShown = 24

    /// Inside an epoch (a signal's checkpoint) the sampler stands after the last batch trained.
    public func savedState() -> State { State(sampler: epochs.position, normalization: data.normalization) }
    public var resumesMidEpoch: Bool { true }
}

extension ClassificationTask {
    /// The registry entry.
    public static let kind = TaskKind(
        ClassificationTask.self, name: "classification", datasets: ["fashion-mnist", "mnist", "idx"],
        dataKeys: ["directory", "train_images", "train_labels", "test_images", "test_labels", "validation", "split_seed", "labels_per_class",
                   "normalize", "crop_padding", "horizontal_flip", "noise_std", "limit",
                   "format", "train", "test", "train_keys", "test_keys", "label_column", "channels"],
        ensembles: true,
        evaluate: { url, request in
            let r = try CheckpointEvaluation.run(checkpoint: url, split: request.split, batchSize: request.batchSize)
            return EvaluationReport(values: ["accuracy": r.accuracy, "loss": r.loss, "samples": Double(r.count),
                                             "step": Double(r.step)],
                                    labels: ["split": request.split],
                                    line: String(format: "%@ %@: accuracy %.4f  loss %.4f  (%d samples, step %d)",
                                                 url.path, request.split, r.accuracy, r.loss, r.count, r.step))
        })
}
