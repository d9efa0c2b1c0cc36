// Nearest neighbours of a row of an embedding matrix [V, D] by cosine similarity, and
// what `phalanx inspect CKPT --neighbours WORD,…` prints for a word language model.
import Foundation
import PhalanxCore
import PhalanxData

/// Cosine nearest neighbours over the rows of an embedding matrix.
public enum EmbeddingNeighbours {
    /// The `count` rows most similar to row `query` (itself left out), most similar first,
    /// with their cosine similarity; rows of norm 0 have similarity 0. Ties keep id order.
    public static func nearest(_ embedding: Tensor, row query: Int, count: Int) -> [(row: Int, similarity: Double)] {
        precondition(embedding.shape.count == 2 && (0..<embedding.shape[0]).contains(query), "a row of a [V, D] matrix")
        let v = embedding.shape[0], d = embedding.shape[1]
        var norms = [Double](repeating: 0, count: v)
        var dots = [Double](repeating: 0, count: v)
        for r in 0..<v {
            var n = 0.0, dot = 0.0
            for j in 0..<d {
                let x = Double(embedding[r * d + j])
                n += x * x
                dot += x * Double(embedding[query * d + j])
            }
            norms[r] = n.squareRoot(); dots[r] = dot
        }
        let q = norms[query]
        var scored: [(row: Int, similarity: Double)] = []
        for r in 0..<v where r != query {
            scored.append((r, norms[r] > 0 && q > 0 ? dots[r] / (norms[r] * q) : 0))
        }
        scored.sort { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.row < $1.row }
        return Array(scored.prefix(max(count, 0)))
    }
}

extension LanguageModel {
    /// For each of `words`, its `count` nearest words in a word model's embedding (the first
    /// `embedding` layer's `weight`, or the [V, D] tensor named `tensor`, such as the output
    /// projection's `head.weight`), as lines to print.
    public static func neighbours(checkpoint: URL, words: [String], count: Int = 10, tensor: String? = nil) throws -> [String] {
        let ckpt = try Checkpoint<LanguageModelState>.load(from: checkpoint, as: LanguageModelState.self)
        let state = ckpt.trainer
        let file = checkpoint.appendingPathComponent(CheckpointLayout.trainer).path
        let tokens = try LanguageModelText.tokens(of: state.config.data) { ConfigError(file: file, key: "config." + $0, $1) }
        guard tokens == .words, let vocabulary = LanguageModelText.vocabularyOnly(tokens: tokens, saved: state.vocabulary).words else {
            throw ValidationFailure("\(checkpoint.path) is a character model; --neighbours takes a word model (data.tokens: words)")
        }
        let layers = state.config.model.layers
        let name: String
        if let tensor {
            name = tensor
        } else {
            guard let i = layers.firstIndex(where: { $0.kind == "embedding" }) else {
                throw ValidationFailure("\(checkpoint.path): its model has no embedding layer")
            }
            name = ModelBuilder.names(of: layers)[i] + ".weight"
        }
        guard let matrix = ckpt.model[name], matrix.shape == [vocabulary.count, matrix.shape.last ?? 0] else {
            throw ValidationFailure("\(checkpoint.path): no [\(vocabulary.count), D] tensor '\(name)' in its model")
        }
        var lines: [String] = []
        for w in words {
            let word = w.lowercased()
            let id = vocabulary.id(word)
            guard id != WordVocabulary.unknownID || word == WordTokenizer.unknown else {
                lines.append("\(word): not in the vocabulary (\(vocabulary.count) tokens)")
                continue
            }
            let near = EmbeddingNeighbours.nearest(matrix, row: Int(id), count: count)
            lines.append("\(word): " + near.map { String(format: "%@ %.3f", vocabulary.words[$0.row], $0.similarity) }
                .joined(separator: ", "))
        }
        return lines
    }
}
