// Tests for Dropout: mask statistics, inverted scaling, evaluation identity, seeding,
// checkpointable RNG state and the frozen mask used by gradient checks.
import PhalanxCore
@testable import PhalanxNN
import Testing

@Suite struct DropoutTests {
    @Test func trainingDropsAboutPAndKeepsTheMean() {
        let layer = Dropout(p: 0.3, seed: 5)
        let x = Tensor(shape: [40, 250], repeating: 1)
        let y = layer.forward(x, mode: .training)
        let zeros = y.scalars.filter { $0 == 0 }.count
        let fraction = Double(zeros) / Double(x.count)
        // 10 000 Bernoulli(0.3) draws: standard deviation of the fraction ≈ 0.0046.
        #expect(abs(fraction - 0.3) < 0.02, "zero fraction \(fraction)")
        #expect(abs(Vector.sum(y) / Double(x.count) - 1) < 0.03)
        let kept = y.scalars.filter { $0 != 0 }
        #expect(kept.allSatisfy { abs($0 - 1 / 0.7) < 1e-6 })
    }

    @Test func backwardUsesTheSameMask() {
        let layer = Dropout(p: 0.5, seed: 9)
        let x = randomTensor([6, 10], 0.5, 1)  // no zeros in x
        let y = layer.forward(x, mode: .training).copy()
        let dy = randomTensor([6, 10], seed: 3, 0.5, 1)
        let dx = layer.backward(dy)
        for i in 0..<x.count {
            if y[i] == 0 {
                #expect(dx[i] == 0)
            } else {
                #expect(abs(dx[i] - 2 * dy[i]) < 1e-6)
            }
        }
        #expect(y.scalars.contains(0) && y.scalars.contains { $0 != 0 })
    }

    @Test func evaluationIsTheIdentity() {
        let layer = Dropout(p: 0.9, seed: 1)
        let x = randomTensor([3, 5])
        let before = layer.rng
        let y = layer.forward(x, mode: .evaluation)
        #expect(y.scalars == x.scalars)
        #expect(y !== x)
        let dy = randomTensor([3, 5], seed: 2)
        #expect(layer.backward(dy).scalars == dy.scalars)
        #expect(layer.rng == before)  // evaluation draws nothing
    }

    @Test func extremeProbabilities() {
        let x = randomTensor([4, 4])
        #expect(Dropout(p: 0, seed: 1).forward(x, mode: .training).scalars == x.scalars)
        #expect(Dropout(p: 1, seed: 1).forward(x, mode: .training).scalars.allSatisfy { $0 == 0 })
    }

    @Test func sameSeedSameMaskAndRestoredStateRepeats() {
        let x = Tensor(shape: [8, 8], repeating: 1)
        let a = Dropout(p: 0.5, seed: 42), b = Dropout(p: 0.5, seed: 42)
        #expect(a.forward(x, mode: .training).scalars == b.forward(x, mode: .training).scalars)
        // Checkpoint the RNG, draw, restore, draw again: the same mask.
        let saved = a.rng
        let first = a.forward(x, mode: .training).scalars
        #expect(a.rng != saved)
        a.rng = saved
        #expect(a.forward(x, mode: .training).scalars == first)
        // Other seeds or streams give other masks.
        let c = Dropout(p: 0.5, seed: 42, stream: 1)
        #expect(c.forward(x, mode: .training).scalars != b.forward(x, mode: .training).scalars)
    }

    @Test func frozenMaskIsReused() {
        let layer = Dropout(p: 0.5, seed: 3)
        let x = Tensor(shape: [5, 5], repeating: 1)
        let first = layer.forward(x, mode: .training).scalars
        layer.freezeMask = true
        #expect(layer.forward(x, mode: .training).scalars == first)
        layer.freezeMask = false
        #expect(layer.forward(x, mode: .training).scalars != first)
    }

    @Test func gradientsWithFrozenMask() {
        let layer = Dropout(p: 0.4, seed: 8)
        let x = randomTensor([4, 6])
        _ = layer.forward(x, mode: .training)
        layer.freezeMask = true
        expectGradients(layer, input: x)
        expectGradients(layer, input: x, mode: .evaluation)
    }
}
