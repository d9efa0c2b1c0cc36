// Text for word language models: a tokenizer (lower-cased words and punctuation, one
// `<eos>` per line), a vocabulary of the K most frequent training words plus `<unk>`
// and `<eos>`, ids, and the held-out tail of the text — cut where the character LM cuts
// it (the last `heldOut` characters), moved on to the next line start so that no word is
// split. Leaves out: stemming, sub-word units, Unicode case folding beyond `lowercased()`.
import Foundation

/// Splits text into tokens: lower-cased words (runs of letters, digits and apostrophes or
/// hyphens inside them, so "don't" and "well-known" are one word), each other visible
/// character as a token of its own (punctuation), and `<eos>` at every line end.
public enum WordTokenizer {
    public static let endOfLine = "<eos>"
    public static let unknown = "<unk>"

    public static func tokenize(_ scalars: some Collection<Unicode.Scalar>) -> [String] {
        var tokens: [String] = []
        var word = String.UnicodeScalarView()
        func flush() {
            if !word.isEmpty { tokens.append(String(word).lowercased()); word = String.UnicodeScalarView() }
        }
        var pending: Unicode.Scalar?  // an apostrophe or hyphen after a word: kept if a letter follows
        for s in scalars {
            let p = s.properties
            if p.isAlphabetic || p.numericType != nil {
                if let j = pending { word.append(j); pending = nil }
                word.append(s)
                continue
            }
            if let j = pending { flush(); tokens.append(String(j)); pending = nil }
            if (s == "'" || s == "-" || s == "\u{2019}") && !word.isEmpty { pending = s; continue }
            flush()
            if s == "\n" {
                tokens.append(endOfLine)
            } else if !p.isWhitespace && s.value >= 0x20 {
                tokens.append(String(s))
            }
        }
        if let j = pending { flush(); tokens.append(String(j)) }
        flush()
        return tokens
    }

    public static func tokenize(_ text: String) -> [String] { tokenize(text.unicodeScalars) }

    /// Text from tokens: separated by spaces, `<eos>` a line break, no space before
    /// closing punctuation, after an opening bracket or between hyphens.
    public static func detokenize(_ tokens: [String]) -> String {
        var out = ""
        var glue = true
        var previous = ""
        for t in tokens {
            if t == endOfLine { out += "\n"; glue = true; previous = t; continue }
            let closing = t.count == 1 && ".,;:!?)]}%'\"".contains(t)
            // "--" (a fortune's attribution) was tokenized as two "-".
            if !glue && !closing && !(t == "-" && previous == "-") { out += " " }
            out += t
            glue = t.count == 1 && "([{".contains(t)
            previous = t
        }
        return out
    }
}

/// A word vocabulary: `<unk>` (id 0), `<eos>` (id 1), then words by falling training count
/// (ties in code-point order).
public struct WordVocabulary: Sendable, Equatable {
    public let words: [String]
    private let index: [String: Int32]

    public init(words: [String]) {
        self.words = words
        var index: [String: Int32] = [:]
        for (i, w) in words.enumerated() where index[w] == nil { index[w] = Int32(i) }
        self.index = index
    }

    /// `<unk>`, `<eos>` and the `size` most frequent tokens of `tokens`.
    public init(counting tokens: [String], size: Int) {
        var counts: [String: Int] = [:]
        for t in tokens where t != WordTokenizer.endOfLine && t != WordTokenizer.unknown { counts[t, default: 0] += 1 }
        let top = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(max(size, 0))
        self.init(words: [WordTokenizer.unknown, WordTokenizer.endOfLine] + top.map(\.key))
    }

    public var count: Int { words.count }
    public static let unknownID: Int32 = 0
    public static let endOfLineID: Int32 = 1

    /// The id of `token`, `<unk>`'s for a word outside the vocabulary.
    public func id(_ token: String) -> Int32 { index[token] ?? Self.unknownID }
    public func encode(_ tokens: [String]) -> [Int32] { tokens.map(id) }
    public func decode(_ ids: [Int32]) -> [String] {
        ids.map { $0 >= 0 && Int($0) < words.count ? words[Int($0)] : WordTokenizer.unknown }
    }
}

/// A word-level corpus: training ids, held-out ids and the vocabulary.
public struct WordCorpus: Sendable {
    public let vocabulary: WordVocabulary
    public let train: [Int32]
    public let heldOut: [Int32]

    /// Reads `paths` as `TextCorpus.read` does, holds out the last `heldOut` characters
    /// (from the next line start on), and keeps the `vocabularySize` most frequent training
    /// words; `vocabulary` given (a checkpoint's) is used instead.
    public static func load(paths: [String], heldOut: Int, vocabularySize: Int,
                            vocabulary: WordVocabulary? = nil) throws(DataError) -> WordCorpus {
        let (scalars, source) = try TextCorpus.read(paths: paths)
        guard heldOut >= 0, scalars.count > heldOut + 2 else {
            throw .impossibleDimensions(path: source, dimensions: [scalars.count],
                                        reason: "\(scalars.count) characters cannot leave \(heldOut) held out and some to train on")
        }
        var cut = scalars.count - heldOut
        if heldOut > 0 { while cut < scalars.count && cut > 0 && scalars[cut - 1] != "\n" { cut += 1 } }
        let trainTokens = WordTokenizer.tokenize(scalars[..<cut])
        let heldTokens = WordTokenizer.tokenize(scalars[cut...])
        let v = vocabulary ?? WordVocabulary(counting: trainTokens, size: vocabularySize)
        return WordCorpus(vocabulary: v, train: v.encode(trainTokens), heldOut: v.encode(heldTokens))
    }

    public init(vocabulary: WordVocabulary, train: [Int32], heldOut: [Int32]) {
        self.vocabulary = vocabulary; self.train = train; self.heldOut = heldOut
    }
}
