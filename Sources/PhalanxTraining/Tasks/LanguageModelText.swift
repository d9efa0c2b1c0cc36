// The token stream a language model trains on, as `data.tokens` says: characters
// (`TextCorpus`) or words (`WordCorpus`, `data.vocabulary` of them). The character LM,
// the word LM and the n-gram baseline all read their text through here, so they share
// one split (the held-out end of the text) and one vocabulary.
import Foundation
import PhalanxData

/// Training and held-out ids and the vocabulary of a language model's text.
public struct LanguageModelText: Sendable {
    public enum Tokens: String, Sendable, CaseIterable { case characters, words }

    public let tokens: Tokens
    public let train: [Int32]
    public let heldOut: [Int32]
    /// Characters: the scalars in id order; words: the vocabulary's words in id order.
    public let characters: [Unicode.Scalar]
    public let words: WordVocabulary?

    public var vocabularySize: Int { words?.count ?? characters.count }
    /// What a checkpoint keeps: the characters as one string, or the words one per line.
    public var savedVocabulary: String {
        words.map { $0.words.joined(separator: "\n") } ?? String(String.UnicodeScalarView(characters))
    }
    /// A token's name in messages and throughput (`chars`, `words`).
    public var unitName: String { tokens == .words ? "words" : "chars" }

    /// The default of `data.vocabulary`.
    public static let defaultVocabulary = 10_000

    /// `data.tokens` and `data.vocabulary` checked, errors naming the key and its line.
    public static func tokens(of data: DataConfig, fail: (String, String) -> ConfigError) throws(ConfigError) -> Tokens {
        guard let t = Tokens(rawValue: data.tokens) else {
            throw fail("data.tokens", "'\(data.tokens)' is not a kind of token; known: characters, words")
        }
        if let v = data.vocabulary {
            guard t == .words else {
                throw fail("data.vocabulary", "a word vocabulary's size, only with tokens: words (characters keep every one)")
            }
            guard v >= 1 else { throw fail("data.vocabulary", "must be at least 1 (words besides <unk> and <eos>), not \(v)") }
        }
        return t
    }

    /// Reads the text `data` names. `saved` is a checkpoint's vocabulary (as
    /// `savedVocabulary` wrote it): word ids then follow it instead of new counts.
    public static func load(_ data: DataConfig, fail: (String, String) -> ConfigError,
                            saved: String? = nil) throws -> LanguageModelText {
        switch try tokens(of: data, fail: fail) {
        case .characters:
            let c = try TextCorpus.load(paths: data.text, heldOut: data.validation)
            return LanguageModelText(tokens: .characters, train: c.train, heldOut: c.heldOut, characters: c.vocabulary, words: nil)
        case .words:
            let v = saved.map { WordVocabulary(words: $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)) }
            let c = try WordCorpus.load(paths: data.text, heldOut: data.validation,
                                        vocabularySize: data.vocabulary ?? defaultVocabulary, vocabulary: v)
            return LanguageModelText(tokens: .words, train: c.train, heldOut: c.heldOut, characters: [], words: c.vocabulary)
        }
    }

    /// Ids of a prompt: characters in the vocabulary, or its words (`<unk>` for unknown ones).
    public func encode(_ text: String) -> [Int32] {
        if let words { return words.encode(WordTokenizer.tokenize(text)) }
        return TextCorpus.encode(text, vocabulary: characters)
    }

    /// Text of ids: the characters, or the words joined as `WordTokenizer.detokenize` does.
    public func decode(_ ids: [Int32]) -> String {
        if let words { return WordTokenizer.detokenize(words.decode(ids)) }
        return TextCorpus.decode(ids, vocabulary: characters)
    }

    /// The id of the line end (a prompt that is empty starts from it).
    public var lineEnd: Int32 {
        words != nil ? WordVocabulary.endOfLineID : (TextCorpus.encode("\n", vocabulary: characters).first ?? 0)
    }

    public init(tokens: Tokens, train: [Int32], heldOut: [Int32], characters: [Unicode.Scalar], words: WordVocabulary?) {
        self.tokens = tokens; self.train = train; self.heldOut = heldOut; self.characters = characters; self.words = words
    }

    /// A checkpoint's vocabulary alone (for sampling), without reading the text.
    public static func vocabularyOnly(tokens: Tokens, saved: String) -> LanguageModelText {
        tokens == .words
            ? LanguageModelText(tokens: .words, train: [], heldOut: [], characters: [],
                                words: WordVocabulary(words: saved.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)))
            : LanguageModelText(tokens: .characters, train: [], heldOut: [], characters: Array(saved.unicodeScalars), words: nil)
    }
}
