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
