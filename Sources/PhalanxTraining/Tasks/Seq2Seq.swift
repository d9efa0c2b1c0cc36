// Encoder–decoder training on generated pairs (`data.dataset: seq2seq`): teacher forcing
// with a per-token cross-entropy that skips padding, greedy decoding for exact-match
// accuracy on validation (each epoch) and test (at the end), checkpoints that carry both
// vocabularies, and `--resume` from the last epoch's checkpoint.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxNN

/// What an encoder–decoder checkpoint's trainer.json holds.
public struct Seq2SeqState: Codable, Sendable {
    public var epoch: Int
    public var step: Int
    public var config: ExperimentConfig
    public var task: String
    public var sourceVocabulary: [String]
    public var targetVocabulary: [String]
    public var maxSourceLength: Int
    public var maxTargetLength: Int
    public var bestExactMatch: Double?
    public var elapsed: Double

    enum CodingKeys: String, CodingKey {
        case epoch, step, config, task, elapsed
        case sourceVocabulary = "source_vocabulary", targetVocabulary = "target_vocabulary"
        case maxSourceLength = "max_source_length", maxTargetLength = "max_target_length"
        case bestExactMatch = "best_exact_match"
    }
}

public struct Seq2SeqSummary: Codable, Sendable {
    public var name: String
    public var attention: Bool
    public var epochs: Int
    public var steps: Int
    public var seconds: Double
    public var validationExactMatch: Double
    public var testExactMatch: Double
    public var testPairs: Int
    public var checkpoint: String

    enum CodingKeys: String, CodingKey {
        case name, attention, epochs, steps, seconds, checkpoint
        case validationExactMatch = "validation_exact_match", testExactMatch = "test_exact_match"
        case testPairs = "test_pairs"
    }
}

/// The pieces of encoder–decoder training and use: the pairs a config asks for, the
/// model, packing a batch, teacher-forced loss, greedy exact match, `generate`.
public enum Seq2Seq {
    /// The task and pairs a config asks for, its values checked.
    static func pairs(_ config: ExperimentConfig, fail: (String, String) -> ConfigError) throws -> SequencePairs {
        let d = config.data
        guard let task = SequenceTask(rawValue: d.task) else {
            throw fail("data.task", "unknown task '\(d.task)'; known: "
                + SequenceTask.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let longest = SequencePairs.maxSourceLength(task)
        guard d.minLength >= 1, d.maxLength >= d.minLength, d.maxLength <= longest else {
            throw fail("data.max_length", "source lengths need 1 ≤ min_length ≤ max_length ≤ \(longest) for \(task.rawValue), "
                + "got \(d.minLength)…\(d.maxLength)")
        }
        guard d.trainPairs > 0 else { throw fail("data.train_pairs", "must be positive") }
        guard d.testPairs > 0 else { throw fail("data.test_pairs", "must be positive") }
        guard d.validation > 0 else { throw fail("data.validation", "an encoder–decoder needs validation pairs (say 1000)") }
        return SequencePairs.generate(task: task, minLength: d.minLength, maxLength: d.maxLength, train: d.trainPairs,
                                      validation: d.validation, test: d.testPairs, seed: config.seed)
    }

    /// The model a config and vocabularies describe.
    static func model(_ config: ExperimentConfig, sourceVocabulary: Int, targetVocabulary: Int, maxSource: Int,
                      maxTarget: Int, fail: (String, String) -> ConfigError) throws -> EncoderDecoder {
        guard let m = config.model.encoderDecoder else {
            throw fail("model.encoder_decoder", "a seq2seq data set needs model.encoder_decoder {embedding, hidden, layers, attention}")
        }
        guard m.embedding > 0, m.hidden > 0, m.layers > 0 else {
            throw fail("model.encoder_decoder", "embedding, hidden and layers must be positive")
        }
        var rng = RNG(seed: config.seed)
        return EncoderDecoder(sourceVocabulary: sourceVocabulary, targetVocabulary: targetVocabulary,
                              sourceSteps: maxSource, targetSteps: maxTarget + 1, embedding: m.embedding,
                              hidden: m.hidden, layers: m.layers, attention: m.attention, rng: &rng)
    }

    /// Packs pairs into the model's input [B, S + T] (sources padded with 0; decoder input:
    /// start, then the target), the labels (target, then end; 0 on padding) and weights
    /// (1 on real tokens, 0 on padding). Returns the number of real tokens.
    static func pack(_ pairs: ArraySlice<SequencePair>, into x: Tensor, labels: inout [Int32], weights: inout [Float],
                     sourceSteps S: Int, targetSteps T: Int) -> Int {
        let B = pairs.count
        x.resize([B, S + T]); x.zero()
        labels = [Int32](repeating: 0, count: B * T)
        weights = [Float](repeating: 0, count: B * T)
        var tokens = 0
        for (n, p) in pairs.enumerated() {
            let row = x.data + n * (S + T)
            for (i, id) in p.source.enumerated() { row[i] = Float(id) }
            row[S] = Float(SequencePairs.start)
            for (i, id) in p.target.enumerated() where i + 1 < T { row[S + 1 + i] = Float(id) }
            for i in 0...p.target.count {
                labels[n * T + i] = i < p.target.count ? p.target[i] : SequencePairs.end
                weights[n * T + i] = 1
            }
            tokens += p.target.count + 1
        }
        return tokens
    }

    /// Mean cross-entropy per target token with teacher forcing (evaluation mode).
    static func teacherForcedLoss(_ model: EncoderDecoder, _ pairs: [SequencePair], batch: Int = 500) -> Double {
        let loss = SoftmaxCrossEntropy()
        let x = Tensor(shape: [0])
        var labels: [Int32] = [], weights: [Float] = []
        var sum = 0.0, count = 0
        for start in stride(from: 0, to: pairs.count, by: batch) {
            let slice = pairs[start..<min(start + batch, pairs.count)]
            let tokens = pack(slice, into: x, labels: &labels, weights: &weights, sourceSteps: model.sourceSteps,
                              targetSteps: model.targetSteps)
            let logits = model.forward(x, mode: .evaluation)
            let l = loss.evaluate(logits.reshaped([slice.count * model.targetSteps, logits.shape[2]]),
                                  target: .labels(labels), weights: weights, normalizer: Float(tokens)).loss
            sum += Double(l) * Double(tokens)
            count += tokens
        }
        return sum / Double(max(count, 1))
    }

    /// Fraction of pairs whose greedy decoding equals the target exactly.
    static func exactMatch(_ model: EncoderDecoder, _ pairs: [SequencePair], maxTarget: Int,
                           batch: Int = 500) -> Double {
        guard !pairs.isEmpty else { return .nan }
        var correct = 0
        for start in stride(from: 0, to: pairs.count, by: batch) {
            let slice = pairs[start..<min(start + batch, pairs.count)]
            let out = model.greedy(slice.map(\.source), start: SequencePairs.start, end: SequencePairs.end,
                                   maxSteps: maxTarget + 1)
            for (p, o) in zip(slice, out) where p.target == o { correct += 1 }
        }
        return Double(correct) / Double(pairs.count)
    }

    /// Greedy answer of a checkpoint to one source string (`phalanx generate`).
    public static func translate(checkpoint: URL, source: String) throws -> String {
        let ckpt = try Checkpoint<Seq2SeqState>.load(from: checkpoint, as: Seq2SeqState.self)
        let s = ckpt.trainer
        guard let task = SequenceTask(rawValue: s.task) else {
            throw CheckpointError(file: checkpoint.path, .invalidJSON("unknown task '\(s.task)'"))
        }
        guard let ids = SequencePairs.encodeSource(source), !ids.isEmpty, ids.count <= s.maxSourceLength else {
            throw ValidationFailure("the source must be 1 to \(s.maxSourceLength) digits for \(s.task), got '\(source)'")
        }
        let model = try loadModel(ckpt, file: checkpoint)
        let out = model.greedy([ids], start: SequencePairs.start, end: SequencePairs.end, maxSteps: s.maxTargetLength + 1)
        return SequencePairs.decodeTarget(out[0], task: task, vocabulary: s.targetVocabulary)
    }

    /// Test-set exact match of a checkpoint, regenerating its config's pairs.
    public static func evaluate(checkpoint: URL) throws -> (exactMatch: Double, pairs: Int, step: Int) {
        let ckpt = try Checkpoint<Seq2SeqState>.load(from: checkpoint, as: Seq2SeqState.self)
        let data = try pairs(ckpt.trainer.config) { key, message in
            ConfigError(file: checkpoint.appendingPathComponent(CheckpointLayout.trainer).path, key: key, message)
        }
        let model = try loadModel(ckpt, file: checkpoint)
        return (exactMatch(model, data.test, maxTarget: data.maxTargetLength), data.test.count, ckpt.step)
    }

    private static func loadModel(_ ckpt: Checkpoint<Seq2SeqState>, file: URL) throws -> EncoderDecoder {
        let s = ckpt.trainer
        let model = try Self.model(s.config, sourceVocabulary: s.sourceVocabulary.count,
                                   targetVocabulary: s.targetVocabulary.count, maxSource: s.maxSourceLength,
                                   maxTarget: s.maxTargetLength) { key, message in
            ConfigError(file: file.appendingPathComponent(CheckpointLayout.trainer).path, key: key, message)
        }
        try ModelState.apply(ckpt.model, to: model, file: file.appendingPathComponent(CheckpointLayout.model).path)
        return model
    }
}

