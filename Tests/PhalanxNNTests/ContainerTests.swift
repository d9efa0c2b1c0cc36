// Tests for the Residual and Concat containers: forwards and backwards by hand,
// gradient checks with Linear children, state-dict names and shape errors.
import PhalanxCore
@testable import PhalanxNN
import Testing

/// A layer that claims a fixed output shape, for shape-error tests.
private final class FixedShape: Layer {
    let kind = "FixedShape"
    let shape: [Int]
    private var output: Tensor?
    init(_ shape: [Int]) { self.shape = shape }
    func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] { shape }
    func forward(_ input: Tensor, mode: Mode) -> Tensor { Tensor.reuse(&output, shape: shape) }
    func backward(_ outputGradient: Tensor) -> Tensor { outputGradient }
}

/// The ShapeError thrown by `layer.outputShape(for: shape)`, or nil.
private func shapeError(_ layer: Layer, _ shape: [Int]) -> ShapeError? {
    do {
        _ = try layer.outputShape(for: shape)
        return nil
    } catch {
        return error
    }
}

@Suite struct ContainerTests {
    // MARK: Residual

    @Test func residualAddsTheInput() {
        var rng = RNG(seed: 1)
        let fc = Linear(inputs: 2, outputs: 2, rng: &rng)
        fc.weight.value.copy(from: Tensor(shape: [2, 2], values: [1, 2, 3, 4]))
        fc.bias!.value.copy(from: Tensor(shape: [2], values: [0.5, -1]))
        let block = Residual(body: fc)
        let y = block.forward(Tensor(shape: [1, 2], values: [1, -1]), mode: .training)
        let expected: [Float] = [-1 + 0.5 + 1, -1 - 1 - 1]
        #expect(y.scalars == expected)
        // dx = Wᵀ·dy + dy
        let dx = block.backward(Tensor(shape: [1, 2], values: [1, 1]))
        #expect(dx.scalars == [5, 7])
    }

    @Test func residualGradients() {
        var rng = RNG(seed: 2)
        let identity = Residual(body: Sequential([Linear(inputs: 4, outputs: 4, rng: &rng), Tanh()]))
        expectGradients(identity, input: randomTensor([3, 4]))
        let projected = Residual(
            body: Sequential([Linear(inputs: 4, outputs: 3, rng: &rng), Tanh(), Linear(inputs: 3, outputs: 5, rng: &rng)]),
            shortcut: Linear(inputs: 4, outputs: 5, rng: &rng))
        expectGradients(projected, input: randomTensor([3, 4], seed: 5))
    }

    @Test func residualStateDictNames() {
        var rng = RNG(seed: 3)
        let body = Sequential([("fc1", Linear(inputs: 4, outputs: 3, rng: &rng)), ("act", ReLU()),
                               ("fc2", Linear(inputs: 3, outputs: 2, rng: &rng))])
        let model = Sequential([("block1", Residual(body: body, shortcut: Linear(inputs: 4, outputs: 2, bias: false, rng: &rng)))])
        #expect(model.parameters.map(\.name) == ["block1.body.fc1.weight", "block1.body.fc1.bias",
                                                 "block1.body.fc2.weight", "block1.body.fc2.bias",
                                                 "block1.shortcut.weight"])
        // torchvision's BasicBlock layout: body children directly under the block.
        let basic = Residual(body: Sequential([("conv1", Linear(inputs: 4, outputs: 4, bias: false, rng: &rng)),
                                               ("bn1", BatchNorm(features: 4))]),
                             shortcut: Sequential([Linear(inputs: 4, outputs: 4, bias: false, rng: &rng), BatchNorm(features: 4)]),
                             names: ("", "downsample"))
        #expect(basic.parameters.map(\.name) == ["conv1.weight", "bn1.weight", "bn1.bias",
                                                 "downsample.0.weight", "downsample.1.weight", "downsample.1.bias"])
        #expect(basic.buffers.map(\.name) == ["bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
                                              "downsample.1.running_mean", "downsample.1.running_var",
                                              "downsample.1.num_batches_tracked"])
        // Batch norm behind a Linear on a small batch is strongly curved: a step of 1e-2
        // gave an 8 % truncation error on [4, 4] (it shrinks as step², checked down to 1e-3).
        expectGradients(basic, input: randomTensor([8, 4]), checker: GradientChecker(step: 3e-3))
    }

    @Test func residualShapeErrors() throws {
        var rng = RNG(seed: 4)
        let narrowing = Residual(body: Linear(inputs: 4, outputs: 3, rng: &rng))
        let e1 = try #require(shapeError(narrowing, [2, 4]))
        #expect(e1.kind == "Residual" && e1.path.isEmpty)
        #expect(e1.message.contains("body output [2, 3] differs from the input [2, 4]; add a projection shortcut"))
        let e2 = try #require(shapeError(Sequential([("block", narrowing)]), [2, 4]))
        #expect(e2.path == ["block"])

        let mismatched = Residual(body: Linear(inputs: 4, outputs: 3, rng: &rng), shortcut: Linear(inputs: 4, outputs: 2, rng: &rng))
        let e3 = try #require(shapeError(mismatched, [2, 4]))
        #expect(e3.message.contains("shortcut 'shortcut' output [2, 2]"))

        let badChild = Residual(body: Sequential([("fc", Linear(inputs: 5, outputs: 5, rng: &rng))]))
        let e4 = try #require(shapeError(Sequential([("block", badChild)]), [2, 4]))
        #expect(e4.path == ["block", "body", "fc"] && e4.kind == "Linear")
        let badShortcut = Residual(body: ReLU(), shortcut: Linear(inputs: 3, outputs: 4, rng: &rng), names: ("", "proj"))
        #expect(shapeError(badShortcut, [2, 4])?.path == ["proj"])
        #expect(shapeError(Residual(body: ReLU()), [2, 3, 4, 4]) == nil)
    }

    // MARK: Concat

    @Test func concatJoinsChannelsAndSplitsGradients() {
        let layer = Concat([("relu", ReLU()), ("leaky", LeakyReLU(slope: 0.5))])
        let x = Tensor(shape: [2, 1, 2], values: [-2, 1, 3, -4])
        let y = layer.forward(x, mode: .training)
        #expect(y.shape == [2, 2, 2])
        #expect(y.scalars == [0, 1, -1, 1, 3, 0, 3, -2])
        // The ReLU gets dy channels 0 ([1, 2], [5, 6]); the leaky one channels 1 ([3, 4], [7, 8]).
        let dx = layer.backward(Tensor(shape: [2, 2, 2], values: [1, 2, 3, 4, 5, 6, 7, 8]))
        #expect(dx.shape == [2, 1, 2])
        let expected: [Float] = [0 + 1.5, 2 + 4, 5 + 7, 0 + 4]
        #expect(dx.scalars == expected)
    }

    @Test func concatGradients() {
        var rng = RNG(seed: 6)
        let dense = Concat([("a", Linear(inputs: 4, outputs: 2, rng: &rng)),
                            ("b", Sequential([Linear(inputs: 4, outputs: 3, rng: &rng), Tanh()]))])
        expectGradients(dense, input: randomTensor([3, 4]))
        let bn = BatchNorm(features: 3)
        bn.bias.value.copy(from: randomTensor([3], seed: 2))
        let planes = Concat([("bn", bn), ("lrn", LocalResponseNorm(size: 3, alpha: 1, beta: 0.75, k: 2)),
                             ("prelu", PReLU(numParameters: 3))])
        expectGradients(planes, input: kinkFreeTensor([2, 3, 2, 2]))
    }

    /// Branch outputs of [8, 4, 64, 32] are copied in parallel chunks of samples.
    @Test func concatLargeInputMatchesBranches() {
        let x = randomTensor([8, 4, 64, 32], seed: 14), dy = randomTensor([8, 8, 64, 32], seed: 15)
        let layer = Concat([("a", ReLU()), ("b", Tanh())])
        let y = layer.forward(x, mode: .training).scalars, dx = layer.backward(dy).scalars
        let relu = ReLU(), tanh = Tanh()
        let yA = relu.forward(x, mode: .training).scalars, yB = tanh.forward(x, mode: .training).scalars
        let run = 4 * 64 * 32
        var dyA = [Float](), dyB = [Float](), joined = [Float]()
        for i in 0..<8 {
            let sample = (i * run)..<((i + 1) * run)
            joined += yA[sample]
            joined += yB[sample]
            dyA += dy.scalars[(2 * i * run)..<((2 * i + 1) * run)]
            dyB += dy.scalars[((2 * i + 1) * run)..<((2 * i + 2) * run)]
        }
        #expect(mismatches(y, joined) == 0)
        let dxA = relu.backward(Tensor(shape: x.shape, values: dyA)).scalars
        let dxB = tanh.backward(Tensor(shape: x.shape, values: dyB)).scalars
        #expect(mismatches(dx, zip(dxA, dxB).map { $0 + $1 }) == 0)
    }

    @Test func concatInsideResidual() {
        var rng = RNG(seed: 7)
        let inception = Concat([("b1", Linear(inputs: 4, outputs: 1, rng: &rng)),
                                ("b2", Linear(inputs: 4, outputs: 3, bias: false, rng: &rng))])
        let model = Sequential([("mixed", Residual(body: inception))])
        #expect(model.parameters.map(\.name) == ["mixed.body.b1.weight", "mixed.body.b1.bias", "mixed.body.b2.weight"])
        #expect((try? model.outputShape(for: [5, 4])) == [5, 4])
        expectGradients(model, input: randomTensor([3, 4]))
    }

    @Test func concatNamesAndShapes() throws {
        var rng = RNG(seed: 8)
        let layer = Concat([Linear(inputs: 4, outputs: 2, rng: &rng), Linear(inputs: 4, outputs: 3, bias: false, rng: &rng)])
        #expect(layer.parameters.map(\.name) == ["0.weight", "0.bias", "1.weight"])
        #expect(try layer.outputShape(for: [6, 4]) == [6, 5])
        let planes = Concat([("a", ReLU()), ("b", FixedShape([2, 5, 4, 4]))])
        #expect(try planes.outputShape(for: [2, 3, 4, 4]) == [2, 8, 4, 4])
    }

    @Test func concatShapeErrors() throws {
        var rng = RNG(seed: 9)
        let badChild = Concat([("ok", Linear(inputs: 4, outputs: 2, rng: &rng)), ("fc", Linear(inputs: 5, outputs: 2, rng: &rng))])
        let e1 = try #require(shapeError(Sequential([("mixed", badChild)]), [2, 4]))
        #expect(e1.path == ["mixed", "fc"] && e1.kind == "Linear")

        let spatial = Concat([("x", FixedShape([2, 3, 4, 4])), ("y", FixedShape([2, 3, 5, 5]))])
        let e2 = try #require(shapeError(spatial, [2, 3, 4, 4]))
        #expect(e2.kind == "Concat")
        #expect(e2.message.contains("branch 'y' output [2, 3, 5, 5] does not match branch 'x' output [2, 3, 4, 4]"))

        let flat = Concat([("v", FixedShape([6]))])
        #expect(shapeError(flat, [6])?.message.contains("no channel dimension") == true)
    }
}
