// Tests for BatchNorm (1d and 2d, training and evaluation, running statistics, state-dict
// names, the statistics hook of synchronised batch norm) and LocalResponseNorm.
import Foundation
import PhalanxCore
@testable import PhalanxNN
import Testing

/// A batch norm over `features` channels with γ and β drawn away from 1 and 0.
private func batchNorm(_ features: Int, seed: UInt64 = 31) -> BatchNorm {
    let bn = BatchNorm(features: features)
    bn.weight.value.copy(from: randomTensor([features], seed: seed, 0.5, 1.5))
    bn.bias.value.copy(from: randomTensor([features], seed: seed + 1))
    return bn
}

/// Rows `rows` of a tensor along dimension 0, as a new tensor.
private func rows(_ t: Tensor, _ rows: Range<Int>) -> Tensor {
    let per = t.count / t.shape[0]
    var shape = t.shape
    shape[0] = rows.count
    return Tensor(shape: shape, values: Array(t.scalars[(rows.lowerBound * per)..<(rows.upperBound * per)]))
}

/// Channel `c` of an [N, C, ...] tensor as an [N, 1, ...] tensor.
private func channel(_ t: Tensor, _ c: Int) -> Tensor {
    let n = t.shape[0], channels = t.shape[1], inner = t.count / (n * channels)
    var shape = t.shape
    shape[1] = 1
    let out = Tensor(shape: shape)
    for i in 0..<n { (out.data + i * inner).update(from: t.data + (i * channels + c) * inner, count: inner) }
    return out
}

@Suite struct NormalizationTests {
    // MARK: BatchNorm

    @Test func batchNormNamesAndDefaults() {
        let bn = BatchNorm(features: 4)
        #expect(bn.parameters.map(\.name) == ["weight", "bias"])
        #expect(bn.buffers.map(\.name) == ["running_mean", "running_var", "num_batches_tracked"])
        #expect(bn.buffers.map(\.storageType) == [.float32, .float32, .int64])
        #expect(bn.parameters.allSatisfy { !$0.decays })
        #expect(bn.weight.value.scalars == [1, 1, 1, 1] && bn.bias.value.scalars == [0, 0, 0, 0])
        #expect(bn.runningMean.value.scalars == [0, 0, 0, 0] && bn.runningVar.value.scalars == [1, 1, 1, 1])
        #expect(bn.numBatchesTracked.value.shape == [] && bn.numBatchesTracked.value.scalars == [0])
        #expect(bn.eps == 1e-5 && bn.momentum == 0.1)
        let model = Sequential([("bn1", bn)])
        #expect(model.buffers.map(\.name) == ["bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"])
    }

    @Test func batchNormShapeErrors() throws {
        let bn = BatchNorm(features: 3)
        #expect(try bn.outputShape(for: [2, 3]) == [2, 3])
        #expect(try bn.outputShape(for: [2, 3, 4, 4]) == [2, 3, 4, 4])
        #expect(throws: ShapeError.self) { try bn.outputShape(for: [2, 4, 4, 4]) }
        #expect(throws: ShapeError.self) { try bn.outputShape(for: [3]) }
        #expect(throws: ShapeError.self) { try bn.outputShape(for: [1, 3, 2, 2, 2]) }
        do {
            _ = try Sequential([("bn", bn)]).outputShape(for: [2, 5])
        } catch {
            #expect(error.path == ["bn"] && error.message.contains("3 channels but the input has 5"))
        }
    }

    @Test func trainingNormalisesWithBatchStatisticsAndUpdatesRunningOnes() {
        // Channel 0 holds 1, 3, 5, 7 (mean 4, biased var 5, unbiased 20/3);
        // channel 1 holds 0, 0, 0, 2 (mean 0.5, biased var 0.75, unbiased 1).
        let x1d = Tensor(shape: [4, 2], values: [1, 0, 3, 0, 5, 0, 7, 2])
        let x2d = Tensor(shape: [2, 2, 1, 2], values: [1, 3, 0, 0, 5, 7, 0, 2])
        for x in [x1d, x2d] {
            let bn = BatchNorm(features: 2)
            let y = bn.forward(x, mode: .training)
            let s0 = Float(1 / (5 + 1e-5).squareRoot()), s1 = Float(1 / (0.75 + 1e-5).squareRoot())
            let expected: [Float] = x.rank == 2
                ? [-3 * s0, -0.5 * s1, -1 * s0, -0.5 * s1, 1 * s0, -0.5 * s1, 3 * s0, 1.5 * s1]
                : [-3 * s0, -1 * s0, -0.5 * s1, -0.5 * s1, 1 * s0, 3 * s0, -0.5 * s1, 1.5 * s1]
            expectClose(y.scalars, expected)
            expectClose(bn.runningMean.value.scalars, [0.4, 0.05])
            expectClose(bn.runningVar.value.scalars, [0.9 + 0.1 * 20 / 3, 0.9 + 0.1 * 1])
            #expect(bn.numBatchesTracked.value.scalars == [1])
            _ = bn.forward(x, mode: .training)
            expectClose(bn.runningMean.value.scalars, [0.9 * 0.4 + 0.4, 0.9 * 0.05 + 0.05])
            #expect(bn.numBatchesTracked.value.scalars == [2])
        }
    }

    @Test func evaluationUsesRunningStatistics() {
        let bn = BatchNorm(features: 2)
        bn.runningMean.value.copy(from: Tensor(shape: [2], values: [1, -1]))
        bn.runningVar.value.copy(from: Tensor(shape: [2], values: [4, 0.25]))
        bn.weight.value.copy(from: Tensor(shape: [2], values: [2, 1]))
        bn.bias.value.copy(from: Tensor(shape: [2], values: [0.5, 0]))
        let y = bn.forward(Tensor(shape: [2, 2], values: [3, 0, 1, -2]), mode: .evaluation)
        let a = Float(1 / (4 + 1e-5).squareRoot()), b = Float(1 / (0.25 + 1e-5).squareRoot())
        expectClose(y.scalars, [2 * 2 * a + 0.5, 1 * b, 0.5, -1 * b])
        // Evaluation leaves the running statistics alone.
        #expect(bn.runningMean.value.scalars == [1, -1] && bn.numBatchesTracked.value.scalars == [0])
    }

    @Test func batchNormGradientsTraining() {
        expectGradients(batchNorm(3), input: randomTensor([5, 3], seed: 3, -1, 2))
        expectGradients(batchNorm(2), input: randomTensor([3, 2, 2, 3], seed: 4))
        expectGradients(batchNorm(2), input: randomTensor([2, 2, 3], seed: 5))
    }

    @Test func batchNormGradientsEvaluation() {
        for input in [randomTensor([4, 3], seed: 6), randomTensor([2, 3, 2, 2], seed: 7)] {
            let bn = batchNorm(3)
            bn.runningMean.value.copy(from: randomTensor([3], seed: 8))
            bn.runningVar.value.copy(from: randomTensor([3], seed: 9, 0.5, 2))
            expectGradients(bn, input: input, mode: .evaluation)
        }
    }

    /// Two "ranks" each hold half the batch; their hooks add the other rank's sums, as an
    /// allreduce would. Each must then match a plain batch norm over the whole batch.
    @Test func statisticsHookGivesGlobalBatchNorm() {
        let c = 3
        let full = randomTensor([6, c, 2], seed: 21, -1, 2), dyFull = randomTensor([6, c, 2], seed: 22)
        let reference = batchNorm(c)
        let yRef = reference.forward(full, mode: .training).copy()
        let dxRef = reference.backward(dyFull).copy()
        let xs = [rows(full, 0..<2), rows(full, 2..<6)], dys = [rows(dyFull, 0..<2), rows(dyFull, 2..<6)]

        // Local forward sums, taken by probes whose hook only records.
        var forwardSums: [[Double]] = [[], []], backwardSums: [[Double]] = [[], []]
        for r in 0..<2 {
            let probe = BatchNorm(features: c)
            probe.reduceStatistics = { forwardSums[r] = Array($0) }
            _ = probe.forward(xs[r], mode: .training)
            #expect(forwardSums[r].count == 2 * c + 1 && forwardSums[r][2 * c] == Double(xs[r].count / c))
        }
        // Forward with the global statistics; a first backward records the local sums.
        let ranks = [batchNorm(c), batchNorm(c)]
        var ys: [Tensor] = []
        for r in 0..<2 {
            ranks[r].reduceStatistics = { buffer in
                if buffer.count == 2 * c + 1 {
                    for i in buffer.indices { buffer[i] += forwardSums[1 - r][i] }
                } else {
                    backwardSums[r] = Array(buffer)
                }
            }
            ys.append(ranks[r].forward(xs[r], mode: .training).copy())
            _ = ranks[r].backward(dys[r])
            #expect(backwardSums[r].count == 2 * c)
        }
        expectClose(ys[0].scalars + ys[1].scalars, yRef.scalars, tolerance: 1e-5)
        expectClose(ranks[0].runningVar.value.scalars, reference.runningVar.value.scalars)
        // The backward that counts, with the backward sums reduced too.
        var dxs: [Float] = []
        for r in 0..<2 {
            ranks[r].zeroGradients()
            ranks[r].reduceStatistics = { buffer in
                precondition(buffer.count == 2 * c)
                for i in buffer.indices { buffer[i] += backwardSums[1 - r][i] }
            }
            dxs += ranks[r].backward(dys[r]).scalars
        }
        expectClose(dxs, dxRef.scalars, tolerance: 1e-5)
        // Parameter gradients stay local: their sum over ranks is the whole batch's.
        let dGamma = zip(ranks[0].weight.gradient.scalars, ranks[1].weight.gradient.scalars).map { $0 + $1 }
        expectClose(dGamma, reference.weight.gradient.scalars, tolerance: 1e-5)
        let dBeta = zip(ranks[0].bias.gradient.scalars, ranks[1].bias.gradient.scalars).map { $0 + $1 }
        expectClose(dBeta, reference.bias.gradient.scalars, tolerance: 1e-5)
    }

    /// [4, 4, 64, 64] is split over threads by channels and by planes; each channel
    /// alone (16 384 elements, below one grain) runs on one thread. Both must agree.
    @Test func batchNormLargeInputMatchesPerChannel() {
        let c = 4
        let x = randomTensor([4, c, 64, 64], seed: 41, -1, 3), dy = randomTensor([4, c, 64, 64], seed: 42)
        let bn = batchNorm(c)
        let y = bn.forward(x, mode: .training), dx = bn.backward(dy)
        for ch in 0..<c {
            let one = BatchNorm(features: 1)
            one.weight.value[0] = bn.weight.value[ch]
            one.bias.value[0] = bn.bias.value[ch]
            let yc = one.forward(channel(x, ch), mode: .training).scalars
            let dxc = one.backward(channel(dy, ch)).scalars
            #expect(mismatches(yc, channel(y, ch).scalars) == 0, "channel \(ch)")
            #expect(mismatches(dxc, channel(dx, ch).scalars) == 0, "channel \(ch)")
            #expect(one.weight.gradient[0] == bn.weight.gradient[ch] && one.bias.gradient[0] == bn.bias.gradient[ch])
            #expect(one.runningMean.value[0] == bn.runningMean.value[ch] && one.runningVar.value[0] == bn.runningVar.value[ch])
        }
    }

    @Test func statisticsHookIsNotCalledInEvaluation() {
        let bn = batchNorm(2)
        var calls = 0
        bn.reduceStatistics = { _ in calls += 1 }
        _ = bn.forward(randomTensor([3, 2]), mode: .evaluation)
        _ = bn.backward(randomTensor([3, 2], seed: 2))
        #expect(calls == 0)
        _ = bn.forward(randomTensor([3, 2]), mode: .training)
        _ = bn.backward(randomTensor([3, 2], seed: 2))
        #expect(calls == 2)
    }

    // MARK: LocalResponseNorm

    @Test func lrnDefaultsAndShapes() throws {
        let lrn = LocalResponseNorm(size: 5)
        #expect(lrn.alpha == 1e-4 && lrn.beta == 0.75 && lrn.k == 1)
        #expect(lrn.parameters.isEmpty)
        #expect(try lrn.outputShape(for: [2, 3, 4]) == [2, 3, 4])
        #expect(throws: ShapeError.self) { try lrn.outputShape(for: [2, 3]) }
    }

    @Test func lrnForwardEvenWindowReachesDown() {
        // size 2: channel c sees c − 1 and c; α/n = 1/2, β = 1, k = 1.
        let lrn = LocalResponseNorm(size: 2, alpha: 1, beta: 1, k: 1)
        let y = lrn.forward(Tensor(shape: [1, 3, 1, 1], values: [1, 2, 3]), mode: .training)
        expectClose(y.scalars, [1 / 1.5, 2 / 3.5, 3 / 7.5])
    }

    @Test func lrnForwardDividesAlphaBySize() {
        // size 3, α = 3 so α/n = 1; two spatial positions per channel.
        let lrn = LocalResponseNorm(size: 3, alpha: 3, beta: 0.75, k: 1)
        let y = lrn.forward(Tensor(shape: [1, 3, 2], values: [1, 0, 2, 1, 0.5, -1]), mode: .training)
        func b(_ a: Double, _ s: Double) -> Float { Float(a * pow(s, -0.75)) }
        expectClose(y.scalars, [b(1, 1 + 1 + 4), b(0, 1 + 0 + 1),
                                b(2, 1 + 1 + 4 + 0.25), b(1, 1 + 0 + 1 + 1),
                                b(0.5, 1 + 4 + 0.25), b(-1, 1 + 1 + 1)])
    }

    /// [4, 8, 32, 32] runs in parallel chunks of planes; each sample alone must agree.
    @Test func lrnLargeInputMatchesPerSample() {
        let lrn = LocalResponseNorm(size: 3, alpha: 1, beta: 0.75, k: 2), single = LocalResponseNorm(size: 3, alpha: 1, beta: 0.75, k: 2)
        let x = randomTensor([4, 8, 32, 32], seed: 43), dy = randomTensor([4, 8, 32, 32], seed: 44)
        let y = lrn.forward(x, mode: .training).scalars, dx = lrn.backward(dy).scalars
        let per = 8 * 32 * 32
        for i in 0..<4 {
            let xi = rows(x, i..<(i + 1)), dyi = rows(dy, i..<(i + 1))
            #expect(mismatches(single.forward(xi, mode: .training).scalars, Array(y[(i * per)..<((i + 1) * per)])) == 0, "sample \(i)")
            #expect(mismatches(single.backward(dyi).scalars, Array(dx[(i * per)..<((i + 1) * per)])) == 0, "sample \(i)")
        }
    }

    @Test func lrnGradients() {
        expectGradients(LocalResponseNorm(size: 3, alpha: 1, beta: 0.75, k: 2), input: randomTensor([2, 5, 2, 2]))
        expectGradients(LocalResponseNorm(size: 4, alpha: 2, beta: 0.6, k: 1), input: randomTensor([2, 5, 3], seed: 4))
        expectGradients(LocalResponseNorm(size: 1, alpha: 1, beta: 1.5, k: 1), input: randomTensor([1, 2, 2, 2], seed: 5))
        expectGradients(LocalResponseNorm(size: 2, alpha: 1, beta: 0.5, k: 1), input: randomTensor([1, 3, 2, 2], seed: 6))
        expectGradients(LocalResponseNorm(size: 3, alpha: 1, beta: 1, k: 1), input: randomTensor([1, 3, 2, 2], seed: 7))
    }
}
