// Layers a decoder needs: Reshape (views, shapes checked) and nearest Upsample
// (hand-computed forward, finite-difference gradient).
import PhalanxCore
@testable import PhalanxNN
import Testing

@Suite struct DecoderLayerTests {
    @Test func reshapeGivesEverySampleTheShapeAndBack() throws {
        let layer = Reshape(shape: [2, 2, 3])
        #expect(try layer.outputShape(for: [5, 12]) == [5, 2, 2, 3])
        #expect(throws: ShapeError.self) { try layer.outputShape(for: [5, 11]) }
        let x = randomTensor([3, 12])
        let y = layer.forward(x, mode: .training)
        #expect(y.shape == [3, 2, 2, 3] && y.scalars == x.scalars)
        let dx = layer.backward(randomTensor([3, 2, 2, 3], seed: 4))
        #expect(dx.shape == [3, 12])
        expectGradients(layer, input: randomTensor([2, 12]))
    }

    @Test func upsampleCopiesEachPixelIntoItsBlock() throws {
        let layer = Upsample(factor: 2)
        #expect(try layer.outputShape(for: [1, 3, 4, 5]) == [1, 3, 8, 10])
        #expect(throws: ShapeError.self) { try layer.outputShape(for: [1, 16]) }
        let x = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        #expect(layer.forward(x, mode: .training).scalars == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        let dy = Tensor(shape: [1, 1, 4, 4], values: (0..<16).map(Float.init))
        // Each input pixel's gradient is the sum of its 2×2 block.
        let blockSums: [Float] = [10, 18, 42, 50]  // 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15
        #expect(layer.backward(dy).scalars == blockSums)
        expectGradients(Upsample(factor: 3), input: randomTensor([2, 2, 3, 2]))
        expectGradients(Upsample(factor: 1), input: randomTensor([1, 2, 2, 2]))
    }
}

@Suite struct ConvTransposeTests {
    @Test func shapesFollowPyTorch() throws {
        var rng = RNG(seed: 1)
        let up = try ConvTranspose2D(inChannels: 4, outChannels: 2, kernel: (3, 3), stride: (2, 2), padding: (1, 1),
                                     outputPadding: (1, 1), rng: &rng)
        // (7 − 1)·2 − 2 + 3 + 1 = 14: the 7×7 → 14×14 step of a Fashion-MNIST decoder.
        #expect(try up.outputShape(for: [5, 4, 7, 7]) == [5, 2, 14, 14])
        #expect(up.weight.value.shape == [4, 2, 3, 3])
        #expect(throws: ShapeError.self) { try up.outputShape(for: [5, 3, 7, 7]) }
        #expect(throws: ShapeError.self) {
            try ConvTranspose2D(inChannels: 1, outChannels: 1, kernel: (2, 2), stride: (2, 2), outputPadding: (2, 0), rng: &rng)
        }
    }

    @Test func strideTwoWithOnesPlacesEachPixelInItsBlock() throws {
        var rng = RNG(seed: 1)
        let up = try ConvTranspose2D(inChannels: 1, outChannels: 1, kernel: (2, 2), stride: (2, 2), bias: false, rng: &rng)
        up.weight.value.fill(1)
        let y = up.forward(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]), mode: .training)
        #expect(y.shape == [1, 1, 4, 4])
        #expect(y.scalars == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
    }

    /// ⟨convᵀ(x), y⟩ = ⟨x, conv(y)⟩ for the convolution with the same weights.
    @Test func isTheAdjointOfTheConvolution() throws {
        var rng = RNG(seed: 3)
        let up = try ConvTranspose2D(inChannels: 3, outChannels: 2, kernel: (3, 3), stride: (2, 2), padding: (1, 1),
                                     outputPadding: (1, 1), bias: false, rng: &rng)
        let conv = try Conv2D(inChannels: 2, outChannels: 3, kernel: (3, 3), stride: (2, 2), padding: (1, 1), bias: false,
                              rng: &rng)
        conv.weight.value.copy(from: up.weight.value)
        let x = randomTensor([2, 3, 4, 5], seed: 7), y = randomTensor([2, 2, 8, 10], seed: 8)
        let ux = up.forward(x, mode: .evaluation), cy = conv.forward(y, mode: .evaluation)
        #expect(ux.shape == y.shape && cy.shape == x.shape)
        var a = 0.0, b = 0.0
        for i in 0..<y.count { a += Double(ux[i]) * Double(y[i]) }
        for i in 0..<x.count { b += Double(x[i]) * Double(cy[i]) }
        #expect(abs(a - b) < 1e-4 * max(1, abs(a)), "\(a) vs \(b)")
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        var rng = RNG(seed: 5)
        let up = try ConvTranspose2D(inChannels: 2, outChannels: 3, kernel: (3, 3), stride: (2, 2), padding: (1, 1),
                                     outputPadding: (1, 1), rng: &rng)
        expectGradients(up, input: randomTensor([2, 2, 3, 3]))
        let plain = try ConvTranspose2D(inChannels: 2, outChannels: 1, kernel: (2, 3), rng: &rng)
        expectGradients(plain, input: randomTensor([1, 2, 3, 2]))
    }
}
