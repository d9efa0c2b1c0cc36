// Tests for RNN and LSTM: finite-difference gradients through several time steps (with
// and without peepholes, stacked, bidirectional, every step or the final state), PyTorch
// names and shapes, and a hand-computed LSTM step.
import Foundation
import PhalanxCore
@testable import PhalanxNN
import Testing

@Suite struct RecurrentTests {
    private func layer(_ cell: RecurrentCell, hidden: Int = 3, layers: Int = 1, bidirectional: Bool = false,
                       peephole: Bool = false, sequences: Bool = false, seed: UInt64 = 1) -> Recurrent {
        var rng = RNG(seed: seed)
        return Recurrent(cell: cell, inputSize: 4, hidden: hidden, layers: layers, bidirectional: bidirectional,
                         peephole: peephole, returnSequences: sequences, rng: &rng)
    }

    @Test func rnnGradients() {
        expectGradients(layer(.rnn), input: randomTensor([2, 5, 4]))
        expectGradients(layer(.rnn, sequences: true), input: randomTensor([2, 4, 4], seed: 3))
    }

    @Test func lstmGradients() {
        expectGradients(layer(.lstm), input: randomTensor([2, 5, 4]))
        expectGradients(layer(.lstm, sequences: true, seed: 2), input: randomTensor([3, 4, 4], seed: 4))
    }

    /// Each task runs every step for its own rows: one thread and two (rows split 10/10)
    /// give the same bits — outputs, input gradients and parameter gradients — for RNN
    /// and LSTM, with and without peepholes, with padded sequences.
    @Test func rowSplitDoesNotChangeABit() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        for (cell, peephole) in [(RecurrentCell.rnn, false), (.lstm, false), (.lstm, true)] {
            var results: [[UInt32]] = []
            for threads in [1, 2] {
                Parallel.threads = threads
                let l = layer(cell, hidden: 13, layers: 2, peephole: peephole, sequences: true, seed: 21)
                l.sequenceLengths = (0..<20).map { 3 + $0 % 4 }
                let x = randomTensor([20, 6, 4], seed: 22)
                let y = l.forward(x, mode: .training)
                let dx = l.backward(randomTensor(y.shape, seed: 23))
                results.append((y.scalars + dx.scalars + l.parameters.flatMap { $0.gradient.scalars }).map(\.bitPattern))
            }
            #expect(results[0] == results[1], "\(cell) peephole \(peephole): 1 and 2 threads differ")
        }
    }

    @Test func lstmPeepholeGradients() {
        let l = layer(.lstm, peephole: true, sequences: true, seed: 5)
        // Peepholes start random (±1/√H) so their gradient is checked away from zero.
        expectGradients(l, input: randomTensor([2, 5, 4], seed: 6))
    }

    @Test func stackedAndBidirectionalGradients() {
        expectGradients(layer(.lstm, layers: 2, seed: 7), input: randomTensor([2, 4, 4], seed: 8))
        expectGradients(layer(.lstm, bidirectional: true, seed: 9), input: randomTensor([2, 4, 4], seed: 10))
        expectGradients(layer(.rnn, layers: 2, bidirectional: true, sequences: true, seed: 11),
                        input: randomTensor([2, 3, 4], seed: 12))
        expectGradients(layer(.lstm, layers: 2, bidirectional: true, peephole: true, sequences: true, seed: 13),
                        input: randomTensor([2, 3, 4], seed: 14))
    }

    @Test func pyTorchNamesAndShapes() throws {
        let l = layer(.lstm, hidden: 5, layers: 2, bidirectional: true)
        #expect(l.parameters.map(\.name) == [
            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
            "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
            "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
            "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
        ])
        #expect(l.parameters[0].value.shape == [20, 4] && l.parameters[1].value.shape == [20, 5])
        #expect(l.parameters[8].value.shape == [20, 10])
        #expect(try l.outputShape(for: [7, 6, 4]) == [7, 10])
        #expect(try l.outputShape(for: [7, 1, 6, 4]) == [7, 10])
        #expect(throws: ShapeError.self) { try l.outputShape(for: [7, 6, 3]) }
        let seq = layer(.rnn, hidden: 2, sequences: true)
        #expect(try seq.outputShape(for: [3, 6, 4]) == [3, 6, 2])
        #expect(layer(.lstm, peephole: true).parameters.last!.name == "weight_peephole_l0")
    }

    /// One step from a zero state: c = i·g, h = o·tanh(c), every gate from W_ih·x + biases.
    @Test func lstmStepByHand() {
        let l = layer(.lstm, hidden: 1)
        let core = l.cores[0][0]
        core.weightIH.value.copy(from: Tensor(shape: [4, 4], values: [0.1, 0, 0, 0, 0.2, 0, 0, 0, 0.3, 0, 0, 0, 0.4, 0, 0, 0]))
        core.biasIH.value.copy(from: Tensor(shape: [4], values: [0.5, 0, -0.5, 0]))
        core.biasHH.value.zero()
        let y = l.forward(Tensor(shape: [1, 1, 4], values: [2, 9, 9, 9]), mode: .training)
        func s(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        let i = s(0.2 + 0.5), g = tanh(0.6 - 0.5), o = s(0.8)
        let h = o * tanh(i * g)
        #expect(abs(Double(y[0]) - h) < 1e-6)
    }
}

/// Truncated BPTT: state carried from chunk to chunk.
@Suite struct TruncatedBPTTTests {
    private func lstm(_ sequences: Bool = true, layers: Int = 2) -> Recurrent {
        var rng = RNG(seed: 21)
        return Recurrent(cell: .lstm, inputSize: 4, hidden: 3, layers: layers, peephole: true,
                         returnSequences: sequences, rng: &rng)
    }

    /// [N, T, F] → the steps `range` as [N, range.count, F].
    private func steps(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        let (n, t, f) = (x.shape[0], x.shape[1], x.shape[2])
        let out = Tensor(shape: [n, range.count, f])
        for i in 0..<n {
            (out.data + i * range.count * f).update(from: x.data + (i * t + range.lowerBound) * f, count: range.count * f)
        }
        return out
    }

    @Test func oneChunkOfTheWholeSequenceIsFullBPTT() {
        let full = lstm(), chunked = lstm()
        chunked.carryState = true
        let x = randomTensor([2, 6, 4], seed: 3), dy = randomTensor([2, 6, 3], seed: 4)
        var outputs: [[Float]] = []
        for layer in [full, chunked] {
            layer.zeroGradients()
            outputs.append(layer.forward(x, mode: .training).scalars)
            _ = layer.backward(dy)
        }
        #expect(outputs[0] == outputs[1])
        for (a, b) in zip(full.parameters, chunked.parameters) {
            #expect(a.gradient.scalars == b.gradient.scalars, "\(a.name)")
        }
    }

    @Test func chunksWithCarriedStateReproduceTheWholeForward() {
        let whole = lstm(), chunked = lstm()
        chunked.carryState = true
        let x = randomTensor([2, 7, 4], seed: 5)
        let y = whole.forward(x, mode: .training).copy()
        let first = chunked.forward(steps(x, 0..<3), mode: .training).copy()
        let second = chunked.forward(steps(x, 3..<7), mode: .training).copy()
        let joined = Tensor(shape: [2, 7, 3])
        for i in 0..<2 {
            (joined.data + i * 21).update(from: first.data + i * 9, count: 9)
            (joined.data + i * 21 + 9).update(from: second.data + i * 12, count: 12)
        }
        #expect(zip(joined.scalars, y.scalars).allSatisfy { abs($0 - $1) <= 1e-6 })
        // A new sequence starts from zeros again.
        chunked.resetState()
        #expect(chunked.forward(steps(x, 0..<3), mode: .training).scalars == first.scalars)
    }

    /// With the carried state held fixed, the chunk's gradients are exact.
    @Test func gradientsOfAChunkFromACarriedState() {
        let l = lstm(false, layers: 1)
        l.carryState = true
        _ = l.forward(randomTensor([2, 3, 4], seed: 7), mode: .training)
        let saved = l.pendingState
        let wrapper = HeldState(l, saved)
        expectGradients(wrapper, input: randomTensor([2, 4, 4], seed: 8))
    }
}

/// Runs a carrying recurrent layer from the same carried state on every forward.
private final class HeldState: Layer {
    let kind = "HeldState"
    let inner: Recurrent
    let state: [(h: Tensor, c: Tensor)?]
    init(_ inner: Recurrent, _ state: [(h: Tensor, c: Tensor)?]) { self.inner = inner; self.state = state }
    var parameters: [Parameter] { inner.parameters }
    func outputShape(for s: [Int]) throws(ShapeError) -> [Int] { try inner.outputShape(for: s) }
    func forward(_ x: Tensor, mode: Mode) -> Tensor { inner.pendingState = state; return inner.forward(x, mode: mode) }
    func backward(_ g: Tensor) -> Tensor { inner.backward(g) }
}

@Suite struct EmbeddingTests {
    @Test func lookupAndGradients() throws {
        var rng = RNG(seed: 31)
        let e = Embedding(count: 5, width: 3, rng: &rng)
        #expect(e.parameters.map(\.name) == ["weight"] && e.weight.value.shape == [5, 3])
        let ids = Tensor(shape: [2, 3], values: [0, 4, 4, 2, 1, 0])
        let y = e.forward(ids, mode: .training)
        #expect(y.shape == [2, 3, 3])
        #expect(Array(y.scalars[3..<6]) == Array(e.weight.value.scalars[12..<15]))
        // Ids are not differentiable: check the table only (a repeated id sums its rows).
        expectGradients(e, input: ids, checkInput: false)
        // Embedding → LSTM → per-step linear, the language model's stack.
        let net = Sequential([("embed", e),
                              ("lstm", Recurrent(cell: .lstm, inputSize: 3, hidden: 4, returnSequences: true, rng: &rng)),
                              ("head", Linear(inputs: 4, outputs: 5, rng: &rng))])
        #expect(try net.outputShape(for: [2, 3]) == [2, 3, 5])
        expectGradients(net, input: ids, checkInput: false)
    }
}
