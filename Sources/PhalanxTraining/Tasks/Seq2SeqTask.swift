// Encoder–decoders on generated pairs (`task: seq2seq`, the default for `data.dataset:
// seq2seq`): teacher forcing with a per-token cross-entropy that skips padding, greedy
// decoding for exact-match accuracy on validation (each epoch) and test (at the end).
// Under mpirun each rank takes its share of every batch's pairs; the loss is averaged
// over the whole batch's tokens.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN

/// Trains an encoder–decoder.
public final class Seq2SeqTask: TrainingTask {
    /// What an encoder–decoder checkpoint keeps besides the loop's fields: both
    /// vocabularies and the lengths the model was built for.
    public struct State: Codable, Sendable {
        public var task: String
        public var sourceVocabulary: [String]
        public var targetVocabulary: [String]
        public var maxSourceLength: Int
        public var maxTargetLength: Int

        enum CodingKeys: String, CodingKey {
            case task
            case sourceVocabulary = "source_vocabulary", targetVocabulary = "target_vocabulary"
            case maxSourceLength = "max_source_length", maxTargetLength = "max_target_length"
        }
    }

    public static let metrics = [MetricSpec.loss, MetricSpec("exact_match", .max, label: "exact match")]
    public static let defaultMonitor = "validation_exact_match"

    let context: TaskContext
    let model: EncoderDecoder
    public var network: Layer { model }
    let data: SequencePairs
    let loss = SoftmaxCrossEntropy()
    public let batchesPerEpoch: Int
    private var order: [SequencePair] = []
    private let x = Tensor(shape: [0])
    private var labels: [Int32] = [], weights: [Float] = []

    public init(_ context: TaskContext, saved: SavedTaskState<State>?) throws {
        self.context = context
        let config = context.config, t = config.train, fail = context.fail
        if t.loss != "cross_entropy" && t.loss != "softmax_cross_entropy" {
            throw fail("train.loss", "an encoder–decoder is trained with cross_entropy per target token, not '\(t.loss)'")
        }
        guard t.batchSize >= context.communicator.size else {
            throw fail("train.batch_size", "a batch of \(t.batchSize) pairs cannot be shared by \(context.communicator.size) ranks")
        }
        data = try Seq2Seq.pairs(config, fail: fail)
        model = try Seq2Seq.model(config, sourceVocabulary: data.sourceVocabulary.count,
                                  targetVocabulary: data.targetVocabulary.count, maxSource: data.maxSourceLength,
                                  maxTarget: data.maxTargetLength, fail: fail)
        let n = data.train.count
        batchesPerEpoch = n / t.batchSize + (t.dropLast || n % t.batchSize == 0 ? 0 : 1)
        guard batchesPerEpoch > 0 else { throw fail("train.batch_size", "\(n) training pairs make no batch of \(t.batchSize)") }
    }

    public var splits: [Split] { [.validation, .test] }
    public var resumesMidEpoch: Bool { true }
    public var unit: String { "pairs/s" }
    public var description: String {
        let m = context.config.model.encoderDecoder
        return "\(data.task.rawValue), \(data.train.count) training, \(data.validation.count) validation and "
            + "\(data.test.count) test pairs; sources up to \(data.maxSourceLength), targets up to \(data.maxTargetLength) "
            + "tokens; encoder–decoder " + ((m?.attention ?? false) ? "with attention" : "without attention (final state only)")
    }

    public func startEpoch(_ epoch: Int) throws {
        // The epoch's order depends only on the seed and the epoch: resume is exact.
        var rng = RNG(seed: context.config.seed, stream: 1000 + UInt64(epoch))
        order = rng.permutation(data.train.count).map { data.train[$0] }
    }

    public func computeGradients(batch b: Int) throws -> StepOutput {
        let bs = context.config.train.batchSize
        let batch = order[(b * bs)..<min((b + 1) * bs, order.count)]
        // This rank's share of the batch; the loss is averaged over the whole batch's tokens.
        let part = context.share(batch.count)
        let slice = batch[(batch.startIndex + part.lowerBound)..<(batch.startIndex + part.upperBound)]
        let tokens = batch.reduce(0) { $0 + $1.target.count + 1 }
        let mine = Seq2Seq.pack(slice, into: x, labels: &labels, weights: &weights, sourceSteps: model.sourceSteps,
                                targetSteps: model.targetSteps)
        let logits = model.forward(x, mode: .training)
        let (l, g) = loss.evaluate(logits.reshaped([slice.count * model.targetSteps, logits.shape[2]]),
                                   target: .labels(labels), weights: weights, normalizer: Float(tokens))
        if l.isFinite { _ = model.backward(g.reshaped(logits.shape)) }
        return StepOutput(loss: Double(l), globalUnits: tokens, units: mine, samples: slice.count)
    }

    /// Teacher-forced loss per token and greedy exact match, computed by rank 0.
    public func evaluate(_ split: Split) throws -> [String: Double] {
        let pairs: [SequencePair]
        switch split {
        case .validation: pairs = data.validation
        case .test: pairs = data.test
        case .train: pairs = data.train
        }
        let v = try context.onRoot(2) {
            [Seq2Seq.teacherForcedLoss(model, pairs), Seq2Seq.exactMatch(model, pairs, maxTarget: data.maxTargetLength)]
        }
        return ["loss": v[0], "exact_match": v[1]]
    }

    public func savedState() -> State {
        State(task: data.task.rawValue, sourceVocabulary: data.sourceVocabulary, targetVocabulary: data.targetVocabulary,
              maxSourceLength: data.maxSourceLength, maxTargetLength: data.maxTargetLength)
    }

    public func summaryFields(metrics: [String: Double], samplesPerSec: Double) -> [String: Double] {
        ["train_pairs_per_sec": samplesPerSec, "test_pairs": Double(data.test.count)]
    }

    /// A few test pairs as the model answers them.
    public func report(checkpoint: URL?) -> [String] {
        guard context.isRoot else { return [] }
        let shown = Array(data.test.prefix(4))
        var lines: [String] = []
        for (p, o) in zip(shown, model.greedy(shown.map(\.source), start: SequencePairs.start, end: SequencePairs.end,
                                              maxSteps: data.maxTargetLength + 1)) {
            let src = p.source.map { String($0 - 1) }.joined()
            lines.append("  \(src) → \(SequencePairs.decodeTarget(o, task: data.task, vocabulary: data.targetVocabulary))"
                + (o == p.target ? "" : "   (expected: \(SequencePairs.decodeTarget(p.target, task: data.task, vocabulary: data.targetVocabulary)))"))
        }
        if let c = checkpoint { lines.append("translate: phalanx generate --checkpoint \(c.path) --prompt 40512") }
        return lines
    }
}

extension Seq2SeqTask {
    /// The registry entry.
    public static let kind = TaskKind(
        Seq2SeqTask.self, name: "seq2seq", datasets: ["seq2seq"],
        dataKeys: ["task", "min_length", "max_length", "train_pairs", "test_pairs", "validation"],
        modelKeys: ["encoder_decoder"],
        evaluate: { url, _ in
            let r = try Seq2Seq.evaluate(checkpoint: url)
            return EvaluationReport(values: ["test_exact_match": r.exactMatch, "pairs": Double(r.pairs), "step": Double(r.step)],
                                    labels: [:],
                                    line: String(format: "%@ test: exact match %.4f  (%d pairs, greedy decoding, step %d)",
                                                 url.path, r.exactMatch, r.pairs, r.step))
        },
        generate: { url, g in try Seq2Seq.translate(checkpoint: url, source: g.prompt) })
}
