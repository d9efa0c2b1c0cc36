import PhalanxCore
@testable import PhalanxNN
import Testing

/// A tensor holding a random permutation of distinct values 0.05 apart, centred on 0,
/// so that no max-pool window has a tie within the gradient checker's step (0.01).
func distinctTensor(_ shape: [Int], seed: UInt64 = 8) -> Tensor {
    let t = Tensor(shape: shape)
    var rng = RNG(seed: seed)
    let perm = rng.permutation(t.count)
    for i in 0..<t.count { t[i] = 0.05 * (Float(perm[i]) - Float(t.count) / 2) }
    return t
}

/// A pooling window under test: kernel, stride, padding and input height × width.
struct PoolCase: CustomTestStringConvertible, Sendable {
    var kernel: (Int, Int), stride: (Int, Int)?, padding = (0, 0), height = 6, width = 6
    var testDescription: String { "k\(kernel) s\(String(describing: stride)) p\(padding) \(height)×\(width)" }
    var input: Tensor { distinctTensor([2, 3, height, width]) }
}

@Suite struct PoolTests {
    static let cases: [PoolCase] = [
        PoolCase(kernel: (2, 2), stride: nil),                               // LeNet's 2×2, stride 2
        PoolCase(kernel: (3, 3), stride: (2, 2), height: 7, width: 7),       // overlapping, AlexNet
        PoolCase(kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        PoolCase(kernel: (2, 3), stride: (1, 2), padding: (1, 1), height: 5, width: 7),
        PoolCase(kernel: (3, 3), stride: (1, 1), height: 4, width: 5),
    ]

    @Test(arguments: cases)
    func maxPoolGradients(_ c: PoolCase) throws {
        expectGradients(try MaxPool2D(kernel: c.kernel, stride: c.stride, padding: c.padding), input: c.input)
    }

    @Test(arguments: cases)
    func avgPoolGradients(_ c: PoolCase) throws {
        expectGradients(try AvgPool2D(kernel: c.kernel, stride: c.stride, padding: c.padding),
                        input: randomTensor([2, 3, c.height, c.width]))
    }

    @Test func maxPoolForwardAndBackwardByHand() throws {
        // One 4×4 plane, 3×3 windows, stride 1: windows overlap and share maxima.
        let x = Tensor(shape: [1, 1, 4, 4], values: [1, 2, 3, 4,
                                                     16, 5, 7, 8,
                                                     9, 10, 11, 12,
                                                     13, 14, 15, 6])
        let pool = try MaxPool2D(kernel: 3, stride: 1)
        #expect(pool.forward(x, mode: .training).scalars == [16, 12, 16, 15])
        let dx = pool.backward(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 4, 8]))
        var expected = [Float](repeating: 0, count: 16)
        expected[4] = 1 + 4; expected[11] = 2; expected[14] = 8
        #expect(dx.scalars == expected)
        // Padding never wins, even against negative values.
        let neg = Tensor(shape: [1, 1, 2, 2], values: [-4, -3, -2, -1])
        let padded = try MaxPool2D(kernel: 2, stride: 1, padding: 1)
        #expect(padded.forward(neg, mode: .evaluation).scalars == [-4, -3, -3, -2, -1, -1, -2, -1, -1])
    }

    @Test func avgPoolCountsPaddingLikePyTorch() throws {
        let x = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        let pool = try AvgPool2D(kernel: 2, stride: 1, padding: 1)
        // Every window divides by 4, padded positions included.
        #expect(pool.forward(x, mode: .evaluation).scalars == [0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1])
        let plain = try AvgPool2D(kernel: 2)
        let y = plain.forward(Tensor(shape: [1, 1, 2, 4], values: [1, 2, 3, 4, 5, 6, 7, 8]), mode: .evaluation)
        #expect(y.shape == [1, 1, 1, 2] && y.scalars == [3.5, 5.5])
    }

    @Test func globalAvgPool() throws {
        let pool = GlobalAvgPool()
        #expect(try pool.outputShape(for: [4, 7, 3, 5]) == [4, 7])
        let y = pool.forward(Tensor(shape: [1, 2, 2, 2], values: [1, 2, 3, 4, 10, 20, 30, 40]), mode: .evaluation)
        #expect(y.shape == [1, 2] && y.scalars == [2.5, 25])
        expectGradients(pool, input: randomTensor([3, 2, 5, 4]))
    }

    @Test func flattenIsAViewBothWays() throws {
        let flatten = Flatten()
        let x = randomTensor([2, 3, 2, 2])
        let y = flatten.forward(x, mode: .training)
        #expect(y.shape == [2, 12] && y.storage === x.storage)
        #expect(flatten.forward(x, mode: .training) === y)
        let dy = randomTensor([2, 12], seed: 9)
        let dx = flatten.backward(dy)
        #expect(dx.shape == [2, 3, 2, 2] && dx.storage === dy.storage)
        #expect(try flatten.outputShape(for: [5, 4, 3]) == [5, 12])
        expectGradients(Flatten(), input: randomTensor([2, 2, 3]))
    }

    @Test func impossibleWindowsAreNamedErrors() throws {
        let pool = try MaxPool2D(kernel: 3, stride: 2)
        #expect(try pool.outputShape(for: [1, 96, 55, 55]) == [1, 96, 27, 27])
        #expect {
            try pool.outputShape(for: [1, 1, 2, 2])
        } throws: { ($0 as? ShapeError)?.message.contains("does not fit input 2×2") == true }
        #expect {
            try AvgPool2D(kernel: 2).outputShape(for: [4, 4])
        } throws: { ($0 as? ShapeError)?.message.contains("expects input [N, C, H, W], got [4, 4]") == true }
        #expect {
            try MaxPool2D(kernel: 2, padding: 2)
        } throws: { ($0 as? ShapeError)?.message.contains("half the kernel") == true }
        #expect(throws: ShapeError.self) { try AvgPool2D(kernel: 0) }
        #expect(throws: ShapeError.self) { try MaxPool2D(kernel: 2, stride: 0) }
        #expect(throws: ShapeError.self) { try GlobalAvgPool().outputShape(for: [2, 3]) }
        #expect(throws: ShapeError.self) { try Flatten().outputShape(for: [7]) }
    }
}
