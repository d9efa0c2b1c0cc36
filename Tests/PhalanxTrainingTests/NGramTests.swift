// n-gram models: every context's distribution sums to 1 over the vocabulary (Kneser–Ney
// and add-k, orders 1…5, seen and unseen contexts), and Kneser–Ney by hand on a tiny corpus.
import Foundation
import PhalanxCore
import Testing
@testable import PhalanxTraining

struct NGramTests {
    /// A seeded stream over 12 tokens (id 11 never occurs).
    static let stream: [Int32] = {
        var rng = RNG(seed: 5, stream: 1)
        return (0..<400).map { _ in Int32(min(10, Int(rng.uniform(0, 1) * 4) + Int(rng.uniform(0, 1) * 8))) }
    }()

    @Test(arguments: [1, 2, 3, 4, 5])
    func probabilitiesSumToOne(order: Int) throws {
        let v = 12
        for smoothing in [NGramModel.Smoothing.kneserNey, .addK(0.1), .addK(1)] {
            let m = try NGramModel(order: order, vocabularySize: v, smoothing: smoothing, ids: Self.stream)
            // Contexts from the stream (seen), with the unseen token, and shorter than order-1.
            let contexts: [[Int32]] = [Array(Self.stream[100..<104]), Array(Self.stream[7..<11]), [11, 11, 11, 11],
                                       [Self.stream[3], 11, Self.stream[5], Self.stream[6]], [Self.stream[0]], []]
            for c in contexts {
                let sum = (0..<v).reduce(0.0) { $0 + m.probability(of: Int32($1), after: c[...]) }
                #expect(abs(sum - 1) < 1e-9, "order \(order) \(smoothing) context \(c): sum \(sum)")
            }
        }
    }

    @Test func kneserNeyByHand() throws {
        // a b a b a c a c b (a=0, b=1, c=2; d=3 never seen), bigrams.
        let m = try NGramModel(order: 2, vocabularySize: 4, smoothing: .kneserNey, ids: [0, 1, 0, 1, 0, 2, 0, 2, 1])
        // Bigram counts ab 2, ba 2, ac 2, ca 1, cb 1: n1 = 2, n2 = 3, D2 = 2/8.
        // Continuation counts N1+(• w): a 2 (after b, c), b 2 (after a, c), c 1, d 0: n1 = 1, n2 = 2, D1 = 1/5;
        // P1(a) = (2 - 0.2)/5 + 0.2·3/5·1/4 = 0.39, P1(b) = 0.39, P1(c) = 0.19, P1(d) = 0.03.
        #expect(m.discounts.map { ($0 * 1e12).rounded() / 1e12 } == [0.2, 0.25])
        let p1: [Double] = [0.39, 0.39, 0.19, 0.03]
        for w in 0..<4 { #expect(abs(m.probability(of: Int32(w), after: []) - p1[w]) < 1e-12) }
        // After a: ab 2, ac 2 (total 4, 2 types): P(b|a) = 1.75/4 + 0.25·2/4·0.39 = 0.48625.
        let afterA: [Double] = [0.04875, 0.48625, 0.46125, 0.00375]
        for w in 0..<4 { #expect(abs(m.probability(of: Int32(w), after: [0]) - afterA[w]) < 1e-12) }
        // After the unseen d: the unigram distribution.
        #expect(abs(m.probability(of: 2, after: [3]) - 0.19) < 1e-12)
        // Perplexity of "a b": exp(-log P(b|a)).
        #expect(abs(m.perplexity([0, 1]).perplexity - 1 / 0.48625) < 1e-9)
    }

    @Test func addKByHand() throws {
        let m = try NGramModel(order: 2, vocabularySize: 4, smoothing: .addK(0.5), ids: [0, 1, 0, 1, 0, 2, 0, 2, 1])
        // c(a b) = 2, c(a •) = 4: (2 + 0.5) / (4 + 0.5·4).
        #expect(abs(m.probability(of: 1, after: [0]) - 2.5 / 6) < 1e-12)
        #expect(abs(m.probability(of: 1, after: [3]) - 0.25) < 1e-12)
    }

    @Test func refusesBadModels() {
        #expect(throws: NGramError.badOrder(6)) { try NGramModel(order: 6, vocabularySize: 4, smoothing: .kneserNey, ids: [0]) }
        #expect(throws: NGramError.badK(0)) { try NGramModel(order: 2, vocabularySize: 4, smoothing: .addK(0), ids: [0]) }
        #expect(throws: NGramError.idOutOfRange(4, 4)) { try NGramModel(order: 2, vocabularySize: 4, smoothing: .kneserNey, ids: [4]) }
        #expect(throws: NGramError.vocabularyTooLarge(70_000)) {
            try NGramModel(order: 2, vocabularySize: 70_000, smoothing: .kneserNey, ids: [0])
        }
    }
}
