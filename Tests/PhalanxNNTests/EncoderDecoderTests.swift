// Tests for variable-length sequences (masking), gradients through a recurrent layer's
// initial and final state, attention, and the encoder–decoder: finite differences
// everywhere, and padded batches equal to their sequences run one by one.
import Foundation
import PhalanxCore
@testable import PhalanxNN
import Testing

@Suite struct MaskingTests {
    private func lstm(layers: Int = 2, bidirectional: Bool = false, sequences: Bool = true, seed: UInt64 = 3) -> Recurrent {
        var rng = RNG(seed: seed)
        return Recurrent(cell: .lstm, inputSize: 4, hidden: 3, layers: layers, bidirectional: bidirectional,
                         returnSequences: sequences, rng: &rng)
    }

    /// Rows n of x [N, T, F] cut to its first `length` steps, as its own batch of one.
    private func row(_ x: Tensor, _ n: Int, length: Int) -> Tensor {
        let T = x.shape[1], F = x.shape[2]
        let r = Tensor(shape: [1, length, F])
        r.data.update(from: x.data + n * T * F, count: length * F)
        return r
    }

    @Test(arguments: [false, true])
    func paddedBatchEqualsEachSequenceAlone(bidirectional: Bool) {
        let x = randomTensor([3, 5, 4], seed: 21)
        let lengths = [5, 2, 3]
        let padded = lstm(bidirectional: bidirectional)
        padded.sequenceLengths = lengths
        let y = padded.forward(x, mode: .evaluation).copy()
        let hn = lstm(bidirectional: bidirectional, sequences: false)
        hn.sequenceLengths = lengths
        let finals = hn.forward(x, mode: .evaluation).copy()
        let D = bidirectional ? 2 : 1, H = 3
        for n in 0..<3 {
            let alone = lstm(bidirectional: bidirectional)
            let ya = alone.forward(row(x, n, length: lengths[n]), mode: .evaluation)
            for t in 0..<lengths[n] {
                for j in 0..<(D * H) {
                    #expect(abs(y[(n * 5 + t) * D * H + j] - ya[t * D * H + j]) < 1e-6, "sequence \(n) step \(t)")
                }
            }
            let aloneFinal = lstm(bidirectional: bidirectional, sequences: false)
            let fa = aloneFinal.forward(row(x, n, length: lengths[n]), mode: .evaluation)
            for j in 0..<(D * H) {
                #expect(abs(finals[n * D * H + j] - fa[j]) < 1e-6, "h_n of sequence \(n)")
            }
            if !bidirectional {
                // finalState (every layer's h and c) is the state after the sequence's own end.
                let state = hn.finalState(), stateAlone = aloneFinal.finalState()
                for l in 0..<2 {
                    for j in 0..<H {
                        #expect(abs(state[l].h[n * H + j] - stateAlone[l].h[j]) < 1e-6)
                        #expect(abs(state[l].c[n * H + j] - stateAlone[l].c[j]) < 1e-6)
                    }
                }
            }
        }
    }

    @Test func maskedGradients() {
        let l = lstm(bidirectional: false, sequences: true, seed: 4)
        l.sequenceLengths = [4, 1, 2]
        expectGradients(l, input: randomTensor([3, 4, 4], seed: 22))
        let b = lstm(layers: 1, bidirectional: true, sequences: false, seed: 5)
        b.sequenceLengths = [3, 2]
        expectGradients(b, input: randomTensor([2, 3, 4], seed: 23))
        var rng = RNG(seed: 6)
        let rnn = Recurrent(cell: .rnn, inputSize: 4, hidden: 3, layers: 2, returnSequences: true, rng: &rng)
        rnn.sequenceLengths = [2, 4]
        expectGradients(rnn, input: randomTensor([2, 4, 4], seed: 24))
    }

    /// f = Σ r·y + Σ u·h_T + Σ v·c_T over every layer, as a function of the initial state
    /// (h0, c0): the analytic initialStateGradient and the parameters' gradients against
    /// central differences.
    @Test func gradientsThroughInitialAndFinalState() {
        let l = lstm(layers: 2, seed: 7)
        l.sequenceLengths = [3, 1]
        let x = randomTensor([2, 3, 4], seed: 25)
        let initial = (0..<2).map { i in
            RecurrentState(h: randomTensor([2, 3], seed: 30 + UInt64(i)), c: randomTensor([2, 3], seed: 40 + UInt64(i)))
        }
        l.initialState = initial
        let r = randomTensor([2, 3, 3], seed: 26)
        let u = (0..<2).map { i in RecurrentState(h: randomTensor([2, 3], seed: 50 + UInt64(i)),
                                                  c: randomTensor([2, 3], seed: 60 + UInt64(i))) }
        func f() -> Double {
            let y = l.forward(x, mode: .training)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i] * r[i]) }
            for (a, b) in zip(l.finalState(), u) {
                for i in 0..<a.h.count { s += Double(a.h[i] * b.h[i] + a.c[i] * b.c[i]) }
            }
            return s
        }
        l.zeroGradients()
        _ = l.forward(x, mode: .training)
        _ = l.backward(r, finalStateGradient: u)
        let grads = l.initialStateGradient.map { RecurrentState(h: $0.h.copy(), c: $0.c.copy()) }
        let paramGrads = l.parameters.map { $0.gradient.copy() }
        let checker = GradientChecker()
        for k in 0..<2 {
            #expect(checker.compare("h0 layer \(k)", tensor: initial[k].h, analytic: grads[k].h, loss: f).passed)
            #expect(checker.compare("c0 layer \(k)", tensor: initial[k].c, analytic: grads[k].c, loss: f).passed)
        }
        for (p, g) in zip(l.parameters, paramGrads) {
            let result = checker.compare(p.name, tensor: p.value, analytic: g, loss: f)
            #expect(result.passed, "\(result)")
        }
    }
}

@Suite struct AttentionTests {
    @Test func gradientsWithPaddedSources() {
        var rng = RNG(seed: 8)
        let a = Attention(hidden: 3, rng: &rng)
        let d = randomTensor([2, 4, 3], seed: 71), e = randomTensor([2, 5, 3], seed: 72)
        let lengths = [5, 2]
        let r = randomTensor([2, 4, 3], seed: 73)
        func f() -> Double {
            let y = a.forward(decoder: d, encoder: e, lengths: lengths)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i] * r[i]) }
            return s
        }
        for p in a.parameters { p.gradient.zero() }
        _ = a.forward(decoder: d, encoder: e, lengths: lengths)
        a.backward(r)
        let dd = a.decoderGradient.copy(), de = a.encoderGradient.copy()
        let grads = a.parameters.map { $0.gradient.copy() }
        let checker = GradientChecker()
        for result in [checker.compare("decoder", tensor: d, analytic: dd, loss: f),
                       checker.compare("encoder", tensor: e, analytic: de, loss: f)]
            + zip(a.parameters, grads).map({ checker.compare($0.name, tensor: $0.value, analytic: $1, loss: f) }) {
            #expect(result.passed, "\(result)")
        }
        // Padded source steps get no weight and no gradient.
        _ = a.forward(decoder: d, encoder: e, lengths: lengths)
        for t in 0..<4 {
            var total: Float = 0
            for s in 0..<5 { total += a.weights[(4 + t) * 5 + s] }
            #expect(abs(total - 1) < 1e-5)
            for s in 2..<5 { #expect(a.weights[(4 + t) * 5 + s] == 0) }
        }
        for s in 2..<5 { for j in 0..<3 { #expect(de[(5 + s) * 3 + j] == 0) } }
    }
}

@Suite struct EncoderDecoderTests {
    private func model(attention: Bool, layers: Int = 1, seed: UInt64 = 9) -> EncoderDecoder {
        var rng = RNG(seed: seed)
        return EncoderDecoder(sourceVocabulary: 5, targetVocabulary: 6, sourceSteps: 4, targetSteps: 3,
                              embedding: 3, hidden: 4, layers: layers, attention: attention, rng: &rng)
    }

    /// Three pairs: sources of lengths 4, 2 and 1 (0 pads), decoder inputs.
    private var batch: Tensor {
        let rows: [[Float]] = [[1, 2, 3, 4, 5, 1, 2], [3, 1, 0, 0, 5, 3, 3], [2, 0, 0, 0, 5, 4, 0]]
        let x = Tensor(shape: [3, 7])
        for (n, r) in rows.enumerated() { for (i, v) in r.enumerated() { x[n * 7 + i] = v } }
        return x
    }

    @Test(arguments: [false, true])
    func gradients(attention: Bool) {
        expectGradients(model(attention: attention), input: batch, checkInput: false)
        expectGradients(model(attention: attention, layers: 2, seed: 10), input: batch, checkInput: false)
    }

    @Test func namesAreThoseOfThePyTorchTwin() {
        let names = Set(model(attention: true).parameters.map(\.name))
        for n in ["encoder.embedding.weight", "encoder.lstm.weight_ih_l0", "encoder.lstm.bias_hh_l0",
                  "decoder.embedding.weight", "decoder.lstm.weight_hh_l0", "attention.weight",
                  "attention.combine.weight", "attention.combine.bias", "head.weight", "head.bias"] {
            #expect(names.contains(n), "\(n)")
        }
        #expect(!model(attention: false).parameters.contains { $0.name.hasPrefix("attention") })
    }

    /// Padding after a source changes nothing: the logits of a row do not depend on what
    /// follows its first 0.
    @Test(arguments: [false, true])
    func paddingIsIgnored(attention: Bool) {
        let m = model(attention: attention)
        let x = batch
        let y = m.forward(x, mode: .evaluation).copy()
        x[1 * 7 + 3] = 4  // after the 0 that ends row 1's source
        x[2 * 7 + 2] = 3
        let z = m.forward(x, mode: .evaluation)
        for i in 0..<y.count { #expect(abs(y[i] - z[i]) < 1e-6) }
    }

    /// Step-by-step greedy decoding agrees with the teacher-forced forward fed its own
    /// output: each generated token is the argmax of the batch forward at that step.
    @Test(arguments: [false, true])
    func greedyAgreesWithTheBatchForward(attention: Bool) {
        let m = model(attention: attention, seed: 12)
        let sources: [[Int32]] = [[1, 2, 3, 4], [3, 1], [2]]
        let start: Int32 = 5
        let out = m.greedy(sources, start: start, end: -1, maxSteps: 3)
        let x = Tensor(shape: [3, 7])
        for (n, s) in sources.enumerated() {
            for (i, id) in s.enumerated() { x[n * 7 + i] = Float(id) }
            x[n * 7 + 4] = Float(start)
            x[n * 7 + 5] = Float(out[n][0])
            x[n * 7 + 6] = Float(out[n][1])
        }
        let logits = m.forward(x, mode: .evaluation)
        for n in 0..<3 {
            #expect(out[n].count == 3)
            for t in 0..<3 {
                var best = 0
                for v in 1..<6 where logits[(n * 3 + t) * 6 + v] > logits[(n * 3 + t) * 6 + best] { best = v }
                #expect(Int32(best) == out[n][t], "sequence \(n) step \(t)")
            }
        }
    }
}
