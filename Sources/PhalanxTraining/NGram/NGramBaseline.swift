// The n-gram baseline of a language-model config: the same text, tokens, vocabulary
// and held-out split as the recurrent model (`LanguageModelText`), fitted by counting.
import Foundation

/// Held-out perplexity of n-gram models on a language-model config's text.
public enum NGramBaseline {
    public struct Result: Sendable, Codable {
        public var order: Int
        public var smoothing: String
        public var heldOutPerplexity: Double
        public var heldOutTokens: Int
        public var trainTokens: Int
        public var vocabulary: Int
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case order, smoothing, seconds, vocabulary
            case heldOutPerplexity = "held_out_perplexity", heldOutTokens = "held_out_tokens", trainTokens = "train_tokens"
        }
    }

    /// Fits one model per (order, smoothing) on the training tokens of `loaded`'s text and
    /// scores its held-out tokens. `smoothings` names are `kneser-ney` and `add-k` (with `k`).
    public static func evaluate(_ loaded: LoadedConfig, orders: [Int], smoothings: [String], k: Double) throws -> [Result] {
        let config = loaded.config
        guard config.data.dataset == "text" else {
            throw loaded.error("data.dataset", "the n-gram baseline reads a language model's text (dataset: text), not '\(config.data.dataset)'")
        }
        let text = try LanguageModelText.load(config.data, fail: loaded.error)
        var results: [Result] = []
        for s in smoothings {
            let smoothing: NGramModel.Smoothing
            switch s {
            case "kneser-ney", "kn": smoothing = .kneserNey
            case "add-k": smoothing = .addK(k)
            default: throw ValidationFailure("--smoothing '\(s)': known: kneser-ney, add-k")
            }
            for n in orders {
                let start = Date()
                let model: NGramModel
                do {
                    model = try NGramModel(order: n, vocabularySize: text.vocabularySize, smoothing: smoothing, ids: text.train)
                } catch .vocabularyTooLarge(let v) {
                    throw loaded.error("data.vocabulary", "\(v) tokens: the n-gram model takes at most \(NGramModel.maxVocabulary)")
                } catch {
                    throw ValidationFailure("\(loaded.file): \(error)")
                }
                let (ppl, tokens) = model.perplexity(text.heldOut)
                results.append(Result(order: n, smoothing: s == "kn" ? "kneser-ney" : s, heldOutPerplexity: ppl,
                                      heldOutTokens: tokens, trainTokens: text.train.count,
                                      vocabulary: text.vocabularySize, seconds: Date().timeIntervalSince(start)))
            }
        }
        return results
    }
}
