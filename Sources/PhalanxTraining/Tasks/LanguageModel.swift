// Language models over characters or words: training with truncated BPTT over a text
// corpus, held-out bits per token, checkpoints that carry the vocabulary, and sampling.
//
// The training text is cut into `batch_size` streams of equal length (stream n starts
// at n·S); each step takes the next `sequence_length` characters of every stream, and
// the model (embedding → recurrent layers with `return_sequences` → a linear projection
// per step) predicts each next character. Recurrent layers carry their state from one
// chunk to the next (truncated BPTT) and start from zeros each epoch.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxNN

/// What a language-model checkpoint's trainer.json holds, as read for evaluation and
/// sampling (the loop writes these keys among its own; checkpoints from before the one
/// loop have exactly these).
public struct LanguageModelState: Codable, Sendable {
    public var epoch: Int
    public var step: Int
    public var config: ExperimentConfig
    /// The vocabulary, in id order, as one string.
    public var vocabulary: String
    public var bestBitsPerCharacter: Double?
    public var elapsed: Double

    enum CodingKeys: String, CodingKey {
        case epoch, step, config, vocabulary, elapsed
        case bestBitsPerCharacter = "best_bits_per_character"
    }

    var scalars: [Unicode.Scalar] { Array(vocabulary.unicodeScalars) }
}

public struct LanguageModelSummary: Codable, Sendable {
    public var name: String
    public var epochs: Int
    public var steps: Int
    public var seconds: Double
    public var trainCharactersPerSec: Double
    public var heldOutBitsPerCharacter: Double
    public var checkpoint: String

    enum CodingKeys: String, CodingKey {
        case name, epochs, steps, seconds, checkpoint
        case trainCharactersPerSec = "train_characters_per_sec"
        case heldOutBitsPerCharacter = "held_out_bits_per_character"
    }
}

/// Pieces shared by training and sampling.
public enum LanguageModel {
    /// The recurrent layers of a model, which carry state across chunks.
    static func recurrentLayers(of model: Layer) -> [Recurrent] {
        allLayers(of: model).compactMap { $0 as? Recurrent }
    }

    /// Inputs [n, T] and next-character labels for chunk `offset` of the n streams in
    /// `streams` (stream k starts at k·streamLength).
    static func fill(_ inputs: Tensor, _ labels: inout [Int32], from ids: [Int32], streams: Range<Int>, streamLength: Int,
                     offset: Int, steps: Int) {
        for (n, k) in streams.enumerated() {
            let base = k * streamLength + offset
            for t in 0..<steps {
                inputs[n * steps + t] = Float(ids[base + t])
                labels[n * steps + t] = ids[base + t + 1]
            }
        }
    }

    /// Mean bits per character of predicting each next character of `ids`, read as one
    /// stream in chunks of `steps` with the state carried (evaluation mode).
    static func bitsPerCharacter(_ model: Layer, recurrent: [Recurrent], ids: [Int32], vocabulary: Int,
                                 steps: Int) throws -> Double {
        for r in recurrent { r.resetState() }
        defer { for r in recurrent { r.resetState() } }
        let loss = SoftmaxCrossEntropy()
        let chunks = (ids.count - 1) / steps
        guard chunks > 0 else { return .nan }
        let inputs = Tensor(shape: [1, steps])
        var labels = [Int32](repeating: 0, count: steps)
        var sum = 0.0
        for c in 0..<chunks {
            fill(inputs, &labels, from: ids, streams: 0..<1, streamLength: ids.count, offset: c * steps, steps: steps)
            let logits = model.forward(inputs, mode: .evaluation)
            sum += Double(loss.evaluate(logits.reshaped([steps, vocabulary]), target: .labels(labels)).loss)
        }
        return sum / Double(chunks) / log(2)
    }

    /// Held-out bits per token of a checkpoint, on the held-out tail of its config's
    /// text (the figure training reports; for words, perplexity is 2 to its power).
    public static func evaluate(checkpoint: URL) throws
        -> (bitsPerCharacter: Double, characters: Int, step: Int, tokens: LanguageModelText.Tokens) {
        let ckpt = try Checkpoint<LanguageModelState>.load(from: checkpoint, as: LanguageModelState.self)
        let config = ckpt.trainer.config
        let file = checkpoint.appendingPathComponent(CheckpointLayout.trainer).path
        let fail = { (key: String, message: String) in ConfigError(file: file, key: "config." + key, message) }
        let tokens = try LanguageModelText.tokens(of: config.data, fail: fail)
        let held: [Int32], size: Int
        if tokens == .words {
            // The held-out words in the checkpoint's own vocabulary.
            let text = try LanguageModelText.load(config.data, fail: fail, saved: ckpt.trainer.vocabulary)
            held = text.heldOut; size = text.vocabularySize
        } else {
            let vocabulary = ckpt.trainer.scalars
            let corpus = try TextCorpus.load(paths: config.data.text, heldOut: config.data.validation)
            // Held-out text in the checkpoint's own vocabulary (unknown characters → id 0, as in training).
            let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($0.element, Int32($0.offset)) })
            held = corpus.heldOut.map { index[corpus.vocabulary[Int($0)]] ?? 0 }
            size = vocabulary.count
        }
        let built = try ModelBuilder.build(config.model, seed: config.seed, vocabulary: size)
        try ModelState.apply(ckpt.model, to: built.network, file: checkpoint.appendingPathComponent(CheckpointLayout.model).path)
        let recurrent = recurrentLayers(of: built.network)
        for r in recurrent { r.carryState = true }
        let bits = try bitsPerCharacter(built.network, recurrent: recurrent, ids: held, vocabulary: size,
                                        steps: config.data.sequenceLength)
        return (bits, held.count, ckpt.step, tokens)
    }

    /// Samples `length` tokens (characters or words) after `prompt` from a checkpoint, one
    /// at a time from softmax(logits / temperature) — the most likely one at temperature 0
    /// — keeping the `topK` most likely when given; stops early at `stop` (a character, or
    /// a word model's one-character token) when given. A word model never writes `<unk>`.
    public static func generate(checkpoint: URL, prompt: String, length: Int, temperature: Float, topK: Int?,
                                seed: UInt64, stop: Character? = nil) throws -> String {
        let ckpt = try Checkpoint<LanguageModelState>.load(from: checkpoint, as: LanguageModelState.self)
        let state = ckpt.trainer
        let file = checkpoint.appendingPathComponent(CheckpointLayout.trainer).path
        let tokens = try LanguageModelText.tokens(of: state.config.data) { ConfigError(file: file, key: "config." + $0, $1) }
        let text = LanguageModelText.vocabularyOnly(tokens: tokens, saved: state.vocabulary)
        let size = text.vocabularySize
        // The same layers, run one token at a time.
        var model1 = state.config.model
        model1.input = [1]
        let built = try ModelBuilder.build(model1, seed: state.config.seed, vocabulary: size)
        try ModelState.apply(ckpt.model, to: built.network, file: checkpoint.appendingPathComponent(CheckpointLayout.model).path)
        let recurrent = recurrentLayers(of: built.network)
        for r in recurrent { r.carryState = true; r.resetState() }
        var ids = text.encode(prompt)
        if ids.isEmpty { ids = [text.lineEnd] }
        let stopID: Int? = stop.flatMap { s in
            tokens == .words ? text.words.flatMap { v in v.words.firstIndex(of: String(s)) }
                             : text.characters.firstIndex(of: s.unicodeScalars.first!)
        }
        let excluded: Int? = tokens == .words ? Int(WordVocabulary.unknownID) : nil
        let input = Tensor(shape: [1, 1])
        var rng = RNG(seed: seed, stream: 77)
        var logits: Tensor?
        for id in ids {
            input[0] = Float(id)
            logits = built.network.forward(input, mode: .evaluation)
        }
        var out: [Int32] = []
        var probabilities = [Double](repeating: 0, count: size)
        for _ in 0..<length {
            guard let l = logits else { break }
            // softmax(l / T), restricted to the top k.
            var order = Array(0..<size).filter { $0 != excluded }
            if temperature == 0 {
                var best = order[0]
                for i in order where l[i] > l[best] { best = i }
                order = [best]
            } else if let k = topK, k > 0, k < order.count {
                order.sort { l[$0] > l[$1] }
                order = Array(order.prefix(k))
            }
            let m = order.map { Double(l[$0]) }.max() ?? 0
            var total = 0.0
            for i in 0..<probabilities.count { probabilities[i] = 0 }
            for i in order {
                probabilities[i] = exp((Double(l[i]) - m) / Double(max(temperature, 1e-4)))
                total += probabilities[i]
            }
            var u = Double(rng.uniform(0, 1)) * total
            var next = order.last!
            for i in order {
                u -= probabilities[i]
                if u <= 0 { next = i; break }
            }
            out.append(Int32(next))
            if let stopID, next == stopID { break }
            input[0] = Float(next)
            logits = built.network.forward(input, mode: .evaluation)
        }
        if tokens == .words {
            // The prompt as the tokenizer read it (lower case), then the continuation.
            return text.decode(ids.count == 1 && prompt.isEmpty ? out : ids + out)
        }
        return prompt + text.decode(out)
    }
}
