// Count-based n-gram language models, the baseline beside the recurrent ones: order
// n = 1…5 over a token stream with ids < 65 536, smoothed by
//  - interpolated Kneser–Ney (Kneser & Ney 1995; Chen & Goodman 1998, eq. 17): the
//    highest order discounts raw counts, lower orders discount continuation counts
//    N1+(• h w), one discount per order D = n1 / (n1 + 2 n2) from that order's counts of
//    counts, interpolated down to the uniform distribution 1/V;
//  - add-k (Lidstone): (c(h w) + k) / (c(h) + k V) on the full-order context only.
// Both give every context a distribution over the whole vocabulary that sums to 1.
// The stream is read as one sequence (contexts run across `<eos>`, as the recurrent
// model's state does); evaluation scores every token after the first with the tokens
// before it in the same stream. Leaves out: modified KN's three discounts, pruning.
import Foundation

/// A smoothed n-gram model fitted to a token stream.
public struct NGramModel: Sendable {
    public enum Smoothing: Sendable, Equatable {
        case kneserNey
        case addK(Double)
    }

    /// Counts of one order: grams of that length (packed ids) and their contexts.
    struct Level: Sendable {
        /// c(h w): raw counts at the highest order, continuation counts N1+(• h w) below.
        var counts: [Gram: Double] = [:]
        /// Σ_w c(h w) and N1+(h •) per context h (the packed ids of the gram's first k-1 tokens).
        var totals: [UInt64: Double] = [:]
        var types: [UInt64: Double] = [:]
        var discount = 0.0
    }

    public let order: Int
    public let vocabularySize: Int
    public let smoothing: Smoothing
    var levels: [Level]  // levels[k-1] holds grams of length k

    /// Context ids are packed 16 bits each into one UInt64 (at most 4 of them, see `Gram`).
    public static let maxOrder = 5
    public static let maxVocabulary = 1 << 16

    /// Fits an order-`order` model to `ids` (each in 0..<vocabularySize).
    public init(order: Int, vocabularySize: Int, smoothing: Smoothing, ids: [Int32]) throws(NGramError) {
        guard (1...Self.maxOrder).contains(order) else { throw .badOrder(order) }
        guard vocabularySize >= 1, vocabularySize <= Self.maxVocabulary else { throw .vocabularyTooLarge(vocabularySize) }
        if case .addK(let k) = smoothing, !(k > 0) { throw .badK(k) }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocabularySize }) { throw .idOutOfRange(Int(bad), vocabularySize) }
        self.order = order; self.vocabularySize = vocabularySize; self.smoothing = smoothing
        levels = Array(repeating: Level(), count: order)
        // Raw counts of every length up to `order`.
        var raw = [[Gram: Double]](repeating: [:], count: order)
        ids.withUnsafeBufferPointer { p in
            for i in 0..<p.count {
                for k in 1...order where i + k <= p.count {
                    raw[k - 1][Self.gram(p, from: i, count: k), default: 0] += 1
                }
            }
        }
        for k in 1...order {
            var counts: [Gram: Double]
            if k == order || smoothing != .kneserNey {
                counts = raw[k - 1]
            } else {
                // N1+(• g): the distinct tokens seen before g, from the grams one longer.
                counts = [:]
                for g in raw[k].keys { counts[Self.dropFirst(g, length: k + 1), default: 0] += 1 }
            }
            var level = Level()
            var n1 = 0.0, n2 = 0.0
            for (g, c) in counts {
                let h = g.context
                level.totals[h, default: 0] += c
                level.types[h, default: 0] += 1
                if c == 1 { n1 += 1 } else if c == 2 { n2 += 1 }
            }
            level.discount = n1 + 2 * n2 > 0 ? n1 / (n1 + 2 * n2) : 0.5
            level.counts = counts
            levels[k - 1] = level
        }
    }

    /// P(w | context): `context` holds the tokens before w, oldest first; only its last
    /// order-1 are read.
    public func probability(of w: Int32, after context: ArraySlice<Int32>) -> Double {
        let n = min(order, context.count + 1)
        let start = context.endIndex - (n - 1)
        switch smoothing {
        case .addK(let k):
            let level = levels[n - 1]
            let h = Self.pack(context[start...])
            let c = level.counts[Gram(context: h, word: w)] ?? 0
            let total = level.totals[h] ?? 0
            return (c + k) / (total + k * Double(vocabularySize))
        case .kneserNey:
            var p = 1 / Double(vocabularySize)
            for k in 1...n {
                let level = levels[k - 1]
                let h = Self.pack(context[(context.endIndex - (k - 1))...])
                guard let total = level.totals[h], total > 0 else { continue }
                let c = level.counts[Gram(context: h, word: w)] ?? 0
                let d = level.discount
                p = max(c - d, 0) / total + d * (level.types[h] ?? 0) / total * p
            }
            return p
        }
    }

    /// Perplexity of `ids` read as one stream: exp of the mean −log P of every token after
    /// the first (the tokens a recurrent model predicts), and how many were scored.
    public func perplexity(_ ids: [Int32]) -> (perplexity: Double, tokens: Int) {
        guard ids.count > 1 else { return (.nan, 0) }
        var sum = 0.0
        for i in 1..<ids.count {
            sum -= log(probability(of: ids[i], after: ids[max(0, i - order + 1)..<i]))
        }
        return (exp(sum / Double(ids.count - 1)), ids.count - 1)
    }

    /// The discounts D of orders 1…n (Kneser–Ney).
    public var discounts: [Double] { levels.map(\.discount) }

    // Keys: a context of k-1 ≤ 4 ids is its ids packed 16 bits each, the oldest highest
    // (within one order every context has the same length, so no length tag is needed);
    // a gram is its context's key and its last id.

    struct Gram: Hashable, Sendable {
        var context: UInt64
        var word: Int32
    }

    static func gram(_ p: UnsafeBufferPointer<Int32>, from i: Int, count k: Int) -> Gram {
        var h: UInt64 = 0
        for j in i..<(i + k - 1) { h = h << 16 | UInt64(UInt16(p[j])) }
        return Gram(context: h, word: p[i + k - 1])
    }

    static func pack(_ ids: ArraySlice<Int32>) -> UInt64 {
        var h: UInt64 = 0
        for id in ids { h = h << 16 | UInt64(UInt16(id)) }
        return h
    }

    /// The gram without its oldest id (`length` ≥ 2 is the gram's length).
    static func dropFirst(_ g: Gram, length: Int) -> Gram {
        Gram(context: g.context & ((1 << (16 * UInt64(length - 2))) - 1), word: g.word)
    }
}

/// What an n-gram model refuses.
public enum NGramError: Error, CustomStringConvertible, Equatable {
    case badOrder(Int), vocabularyTooLarge(Int), badK(Double), idOutOfRange(Int, Int)

    public var description: String {
        switch self {
        case .badOrder(let n): return "order \(n): an n-gram model here has order 1…\(NGramModel.maxOrder)"
        case .vocabularyTooLarge(let v): return "a vocabulary of \(v) tokens: the n-gram model takes at most \(NGramModel.maxVocabulary)"
        case .badK(let k): return "add-k needs k > 0, not \(k)"
        case .idOutOfRange(let id, let v): return "token id \(id) outside the vocabulary of \(v)"
        }
    }
}
