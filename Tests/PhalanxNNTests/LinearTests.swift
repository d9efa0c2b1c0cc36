import PhalanxCore
@testable import PhalanxNN
import Testing

@Suite struct LinearTests {
    @Test func gradients() {
        var rng = RNG(seed: 1)
        let layer = Linear(inputs: 5, outputs: 3, rng: &rng)
        rng.fillUniform(layer.bias!.value, -0.5, 0.5)
        expectGradients(layer, input: randomTensor([4, 5]))
    }

    @Test func forwardMatchesHandComputation() {
        var rng = RNG(seed: 1)
        let layer = Linear(inputs: 2, outputs: 2, rng: &rng)
        layer.weight.value.copy(from: Tensor(shape: [2, 2], values: [1, 2, 3, 4]))
        layer.bias!.value.copy(from: Tensor(shape: [2], values: [0.5, -1]))
        let y = layer.forward(Tensor(shape: [1, 2], values: [1, 1]), mode: .evaluation)
        #expect(y.scalars == [3.5, 6])
    }

    @Test func wrongFeatureCountNamesTheLayer() {
        var rng = RNG(seed: 1)
        let model = Sequential([("fc1", Linear(inputs: 4, outputs: 3, rng: &rng)),
                                ("fc2", Linear(inputs: 5, outputs: 2, rng: &rng))])
        #expect(throws: ShapeError.self) { try model.outputShape(for: [8, 4]) }
        do {
            _ = try model.outputShape(for: [8, 4])
        } catch {
            #expect(error.path == ["fc2"])
            #expect(error.description.contains("fc2") && error.description.contains("expects 5 input features, got 3"))
        }
    }

    @Test func sequentialNamesParametersLikePyTorch() {
        var rng = RNG(seed: 1)
        let model = Sequential([Linear(inputs: 4, outputs: 3, rng: &rng),
                                Sequential([("fc", Linear(inputs: 3, outputs: 2, bias: false, rng: &rng))])])
        #expect(model.parameters.map(\.name) == ["0.weight", "0.bias", "1.fc.weight"])
        expectGradients(model, input: randomTensor([3, 4]))
    }
}
