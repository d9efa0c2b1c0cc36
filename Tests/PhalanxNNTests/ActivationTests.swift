// Tests for ReLU, LeakyReLU, Tanh, Sigmoid and PReLU: hand-computed forwards and
// finite-difference gradients (inputs kept ≥ 0.05 away from the rectifiers' kink).
import Foundation
import PhalanxCore
@testable import PhalanxNN
import Testing

/// Uniform values in ±[0.05, 1.05): random signs, never within 0.05 of zero.
func kinkFreeTensor(_ shape: [Int], seed: UInt64 = 11) -> Tensor {
    let t = randomTensor(shape, seed: seed)
    for i in 0..<t.count { t[i] += t[i] < 0 ? -0.05 : 0.05 }
    return t
}

/// Checks `actual` against `expected` element by element within `tolerance`.
func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-5,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "counts differ: \(actual.count) vs \(expected.count)",
            sourceLocation: sourceLocation)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        #expect(abs(a - e) <= tolerance * max(1, abs(e)), "[\(i)]: \(a) vs expected \(e)",
                sourceLocation: sourceLocation)
    }
}

/// How many elements differ between two equally long arrays (a count, not a dump,
/// for large tensors).
func mismatches(_ a: [Float], _ b: [Float]) -> Int {
    precondition(a.count == b.count, "mismatches: counts differ (\(a.count) vs \(b.count))")
    return zip(a, b).filter { $0 != $1 }.count
}

@Suite struct ActivationTests {
    let sample = Tensor(shape: [2, 3], values: [-2, -0.5, 0, 0.5, 1, 3])

    @Test func reluForwardAndBackward() {
        let layer = ReLU()
        #expect(layer.forward(sample, mode: .training).scalars == [0, 0, 0, 0.5, 1, 3])
        let dx = layer.backward(Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
        #expect(dx.scalars == [0, 0, 0, 4, 5, 6])
        #expect(dx.shape == [2, 3])
    }

    @Test func leakyReLUForward() {
        #expect(LeakyReLU().slope == 0.01)
        let y = LeakyReLU(slope: 0.1).forward(sample, mode: .training)
        expectClose(y.scalars, [-0.2, -0.05, 0, 0.5, 1, 3])
    }

    @Test func tanhAndSigmoidForward() {
        let x = sample.scalars
        expectClose(Tanh().forward(sample, mode: .training).scalars, x.map { Float(Foundation.tanh(Double($0))) })
        expectClose(Sigmoid().forward(sample, mode: .training).scalars, x.map { Float(1 / (1 + Foundation.exp(-Double($0)))) })
        // Saturation gives the limits, not NaN.
        let extreme = Tensor(shape: [2], values: [-200, 200])
        #expect(Sigmoid().forward(extreme, mode: .training).scalars == [0, 1])
    }

    @Test func activationsPreserveAnyRank() throws {
        for layer: Layer in [ReLU(), LeakyReLU(), Tanh(), Sigmoid(), PReLU()] {
            for shape in [[7], [2, 3, 4], [2, 1, 2, 2, 2]] {
                #expect(try layer.outputShape(for: shape) == shape)
                #expect(layer.forward(Tensor(shape: shape), mode: .training).shape == shape)
            }
        }
    }

    @Test func gradients() {
        let x = kinkFreeTensor([3, 4])
        expectGradients(ReLU(), input: x)
        expectGradients(LeakyReLU(slope: 0.2), input: x)
        expectGradients(Tanh(), input: randomTensor([3, 4], -2, 2))
        expectGradients(Sigmoid(), input: randomTensor([2, 2, 3], -3, 3))
    }

    @Test func preluMatchesPyTorchDefaults() {
        let layer = PReLU()
        #expect(layer.parameters.map(\.name) == ["weight"])
        #expect(layer.weight.value.shape == [1])
        #expect(layer.weight.value.scalars == [0.25])
        #expect(!layer.weight.decays)
        let y = layer.forward(sample, mode: .training)
        expectClose(y.scalars, [-0.5, -0.125, 0, 0.5, 1, 3])
    }

    @Test func preluPerChannelForward() {
        let layer = PReLU(numParameters: 2, initialSlope: 0.25)
        layer.weight.value.copy(from: Tensor(shape: [2], values: [0.5, -1]))
        // [N = 1, C = 2, L = 2]
        let x = Tensor(shape: [1, 2, 2], values: [-2, 4, -3, 5])
        #expect(layer.forward(x, mode: .training).scalars == [-1, 4, 3, 5])
    }

    @Test func preluGradientsSharedAndPerChannel() {
        let shared = PReLU()
        expectGradients(shared, input: kinkFreeTensor([3, 4]))
        let perChannel = PReLU(numParameters: 3)
        perChannel.weight.value.copy(from: Tensor(shape: [3], values: [0.25, -0.3, 0.6]))
        expectGradients(perChannel, input: kinkFreeTensor([2, 3, 2, 2]))
    }

    @Test func preluAccumulatesSlopeGradient() {
        let layer = PReLU()
        let x = Tensor(shape: [4], values: [-1, -2, 3, 0.5])
        _ = layer.forward(x, mode: .training)
        let dy = Tensor(shape: [4], values: [1, 1, 1, 1])
        _ = layer.backward(dy)
        _ = layer.backward(dy)
        // dL/da = Σ_{x ≤ 0} dy·x = −3 per backward, accumulated twice.
        #expect(layer.weight.gradient.scalars == [-6])
    }

    /// Inputs above two parallel grains (Vector.grain) against plain loops: per-channel
    /// slopes on [2, 4, 96, 96], and one slope on a rank-1 tensor cut into uneven blocks.
    @Test func preluLargeInputsMatchPlainLoops() {
        for (shape, slopes) in [([2, 4, 96, 96], [Float(0.1), 0.2, -0.3, 0.4]), ([70_000], [Float(0.3)])] {
            let layer = PReLU(numParameters: slopes.count)
            layer.weight.value.copy(from: Tensor(shape: [slopes.count], values: slopes))
            let x = randomTensor(shape, seed: 12), dy = randomTensor(shape, seed: 13)
            let y = layer.forward(x, mode: .training), dx = layer.backward(dy)
            let plane = shape.count > 1 ? shape[2...].reduce(1, *) : x.count
            var grad = [Double](repeating: 0, count: slopes.count)
            var mismatches = 0
            for i in 0..<x.count {
                let c = (i / plane) % slopes.count, v = x[i]
                if v > 0 {
                    if y[i] != v || dx[i] != dy[i] { mismatches += 1 }
                } else {
                    if y[i] != slopes[c] * v || dx[i] != slopes[c] * dy[i] { mismatches += 1 }
                    grad[c] += Double(dy[i]) * Double(v)
                }
            }
            #expect(mismatches == 0)
            expectClose(layer.weight.gradient.scalars, grad.map { Float($0) }, tolerance: 1e-5)
        }
    }

    @Test func preluRejectsChannelMismatch() {
        let layer = PReLU(numParameters: 3)
        #expect(throws: ShapeError.self) { try layer.outputShape(for: [2, 4, 5, 5]) }
        #expect(throws: ShapeError.self) { try layer.outputShape(for: [6]) }
        #expect((try? layer.outputShape(for: [2, 3, 5, 5])) == [2, 3, 5, 5])
    }
}
