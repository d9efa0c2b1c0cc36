// Language models (`task: language_model`, the default for `data.dataset: text`) over
// characters or words (`data.tokens`): truncated BPTT over a text corpus, held-out bits
// per character or perplexity per word.
//
// The training text is cut into `batch_size` streams of equal length (stream n starts
// at n·S); each step takes the next `sequence_length` characters of every stream, and
// the model (embedding → recurrent layers with `return_sequences` → a linear projection
// per step) predicts each next character. Recurrent layers carry their state from one
// chunk to the next (truncated BPTT) and start from zeros each epoch. Under mpirun each
// rank runs its share of the streams; the loss is averaged over all N·T characters.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN

/// Trains a character or word language model.
public final class LanguageModelTask: TrainingTask {
    /// What a language-model checkpoint keeps besides the loop's fields.
    public struct State: Codable, Sendable {
        /// The vocabulary, in id order: the characters as one string, or the words one a line.
        public var vocabulary: String
    }

    /// Bits per character for characters, perplexity (exp of the mean loss) for words.
    public static let metrics = [MetricSpec.loss, MetricSpec("bits_per_char", .min, label: "bits/char"),
                                 MetricSpec("perplexity", .min, label: "ppl")]
    public static let defaultMonitor = "validation_bits_per_char"
    public static func derived(_ m: [String: Double]) -> [String: Double] { derived(m, tokens: .characters) }
    static func derived(_ m: [String: Double], tokens: LanguageModelText.Tokens) -> [String: Double] {
        var m = m
        if let l = m["loss"] {
            if tokens == .words { m["perplexity"] = exp(l) } else { m["bits_per_char"] = l / log(2) }
        }
        m["accuracy"] = nil
        return m
    }
    public func derivedMetrics(_ m: [String: Double]) -> [String: Double] { Self.derived(m, tokens: corpus.tokens) }

    let context: TaskContext
    public let network: Layer
    let corpus: LanguageModelText
    let recurrent: [Recurrent]
    let loss = SoftmaxCrossEntropy()
    let vocabulary: String
    let streams: Range<Int>
    let streamLength: Int
    public let batchesPerEpoch: Int
    private let inputs: Tensor
    private var labels: [Int32]

    public init(_ context: TaskContext, saved: SavedTaskState<State>?) throws {
        self.context = context
        let config = context.config, t = config.train, d = config.data, fail = context.fail
        guard d.sequenceLength > 0 else { throw fail("data.sequence_length", "must be positive") }
        if t.loss != "cross_entropy" && t.loss != "softmax_cross_entropy" {
            throw fail("train.loss", "a language model is trained with cross_entropy (next-character log-likelihood), not '\(t.loss)'")
        }
        corpus = try LanguageModelText.load(d, fail: fail)
        vocabulary = corpus.savedVocabulary
        if corpus.tokens == .words && (config.checkpoint.monitor ?? Self.defaultMonitor) == "validation_bits_per_char" {
            throw fail("checkpoint.monitor", "a word model reports validation_perplexity (and validation_loss), "
                + "not bits per character: set checkpoint.monitor: validation_perplexity")
        }
        if let saved, saved.state.vocabulary != vocabulary {
            throw CheckpointError(file: saved.file, .io("its vocabulary differs from this text's; resume needs the same text"))
        }
        let built = try ModelBuilder.build(config.model, seed: config.seed, vocabulary: corpus.vocabularySize, fail: fail)
        network = built.network
        let T = d.sequenceLength, N = t.batchSize
        guard config.model.input.count == 1, config.model.input[0] == T else {
            throw fail("model.input", "a language model's input is [sequence_length], here [\(T)]")
        }
        guard built.outputShape == [T, corpus.vocabularySize] else {
            throw fail("model.layers", "the model must output [\(T), \(corpus.vocabularySize)] (a score per token "
                + "of the vocabulary at every step), it outputs \(built.outputShape)")
        }
        recurrent = LanguageModel.recurrentLayers(of: network)
        for r in recurrent { r.carryState = true }
        guard N >= context.communicator.size else {
            throw fail("train.batch_size", "\(N) streams cannot be shared by \(context.communicator.size) ranks")
        }
        streams = context.share(N)
        streamLength = corpus.train.count / N
        batchesPerEpoch = (streamLength - 1) / T
        guard batchesPerEpoch > 0 else {
            throw fail("train.batch_size", "\(corpus.train.count) training characters in \(N) streams leave no chunk of \(T)")
        }
        inputs = Tensor(shape: [streams.count, T])
        labels = [Int32](repeating: 0, count: streams.count * T)
    }

    /// Held-out text to evaluate on needs more than one chunk of it.
    public var splits: [Split] { corpus.heldOut.count > context.config.data.sequenceLength ? [.validation] : [] }
    public var unit: String { "\(corpus.unitName)/s" }
    /// Hidden state carries over from batch to batch (truncated BPTT): evaluating a batch twice is not the same objective.
    public var batchesRepeatable: Bool { false }
    public var description: String {
        let u = corpus.tokens.rawValue
        return "\(corpus.vocabularySize) \(corpus.tokens == .words ? "tokens (words, <unk>, <eos>)" : u) in the vocabulary, "
            + "\(corpus.train.count) training and \(corpus.heldOut.count) held-out \(u), chunks of \(context.config.data.sequenceLength) \(u)"
    }

    /// The text's size, vocabulary and CRC-32, as this rank read it.
    public var fingerprint: String {
        let train = corpus.train.withUnsafeBytes { crc32Checksum($0) }, held = corpus.heldOut.withUnsafeBytes { crc32Checksum($0) }
        return "\(corpus.train.count)+\(corpus.heldOut.count) \(corpus.tokens.rawValue), vocabulary crc \(hex(crc32Checksum(Array(vocabulary.utf8)))), "
            + "text crc \(hex(train))/\(hex(held))"
    }

    public func startEpoch(_ epoch: Int) throws {
        for r in recurrent { r.resetState() }
    }

    public func computeGradients(batch index: Int) throws -> StepOutput {
        let T = context.config.data.sequenceLength, N = context.config.train.batchSize, n = streams.count
        LanguageModel.fill(inputs, &labels, from: corpus.train, streams: streams, streamLength: streamLength,
                           offset: index * T, steps: T)
        let logits = network.forward(inputs, mode: .training)
        let v = corpus.vocabularySize
        // Averaged over all N·T characters of the step, whichever rank holds them.
        let (l, g) = loss.evaluate(logits.reshaped([n * T, v]), target: .labels(labels), weights: nil,
                                   normalizer: Float(N * T))
        if l.isFinite { _ = network.backward(g.reshaped([n, T, v])) }
        return StepOutput(loss: Double(l), globalUnits: N * T, units: n * T, samples: n * T)
    }

    /// Held-out bits per character (perplexity per word), read as one stream by rank 0.
    public func evaluate(_ split: Split) throws -> [String: Double] {
        guard split == .validation else { return [:] }
        let bits = try context.onRoot(1) {
            [try LanguageModel.bitsPerCharacter(network, recurrent: recurrent, ids: corpus.heldOut,
                                                vocabulary: corpus.vocabularySize, steps: context.config.data.sequenceLength)]
        }[0]
        return Self.derived(["loss": bits * log(2)], tokens: corpus.tokens)
    }

    public func savedState() -> State { State(vocabulary: vocabulary) }

    public func summaryFields(metrics: [String: Double], samplesPerSec: Double) -> [String: Double] {
        corpus.tokens == .words
            ? ["train_words_per_sec": samplesPerSec, "held_out_perplexity": metrics["validation_perplexity"] ?? .nan]
            : ["train_characters_per_sec": samplesPerSec, "held_out_bits_per_character": metrics["validation_bits_per_char"] ?? .nan]
    }

    public func report(checkpoint: URL?) -> [String] {
        guard let checkpoint else { return [] }
        if corpus.tokens == .words {
            return ["generate: phalanx generate --checkpoint \(checkpoint.path) --prompt 'the' --length 50",
                    "neighbours: phalanx inspect \(checkpoint.path) --neighbours love,money,computer"]
        }
        return ["generate: phalanx generate --checkpoint \(checkpoint.path) --prompt 'The ' --length 200"]
    }
}

extension LanguageModelTask {
    /// The registry entry.
    public static let kind = TaskKind(
        LanguageModelTask.self, name: "language_model", datasets: ["text"],
        dataKeys: ["text", "validation", "sequence_length", "tokens", "vocabulary"],
        evaluate: { url, _ in
            let r = try LanguageModel.evaluate(checkpoint: url)
            if r.tokens == .words {
                let ppl = exp(r.bitsPerCharacter * log(2))
                return EvaluationReport(values: ["held_out_perplexity": ppl, "words": Double(r.characters), "step": Double(r.step)],
                                        labels: [:],
                                        line: String(format: "%@ held-out text: perplexity %.2f per word  (%d tokens, step %d)",
                                                     url.path, ppl, r.characters, r.step))
            }
            return EvaluationReport(values: ["held_out_bits_per_character": r.bitsPerCharacter,
                                             "characters": Double(r.characters), "step": Double(r.step)],
                                    labels: [:],
                                    line: String(format: "%@ held-out text: %.4f bits per character  (%d characters, step %d)",
                                                 url.path, r.bitsPerCharacter, r.characters, r.step))
        },
        generate: { url, g in
            try LanguageModel.generate(checkpoint: url, prompt: g.prompt, length: g.length, temperature: g.temperature,
                                       topK: g.topK, seed: g.seed, stop: g.stop)
        })
}
