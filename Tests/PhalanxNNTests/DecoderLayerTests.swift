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
