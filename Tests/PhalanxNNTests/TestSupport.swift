import PhalanxCore
@testable import PhalanxNN
import Testing

/// A tensor of `shape` with uniform values in [low, high), fixed seed.
func randomTensor(_ shape: [Int], seed: UInt64 = 7, _ low: Float = -1, _ high: Float = 1) -> Tensor {
    var rng = RNG(seed: seed)
    let t = Tensor(shape: shape)
    rng.fillUniform(t, low, high)
    return t
}

/// Runs the shared gradient checker and records one expectation per checked tensor,
/// printing each label with its worst relative error.
func expectGradients(_ layer: Layer, input: Tensor, mode: Mode = .training,
                     checkInput: Bool = true, checker: GradientChecker = GradientChecker(),
                     internalLoss: () -> Float = { 0 },
                     sourceLocation: SourceLocation = #_sourceLocation) {
    let results = checker.check(layer, input: input, mode: mode, checkInput: checkInput, internalLoss: internalLoss)
    #expect(!results.isEmpty, sourceLocation: sourceLocation)
    for r in results {
        #expect(r.passed, "\(layer.kind) \(r)", sourceLocation: sourceLocation)
    }
}
