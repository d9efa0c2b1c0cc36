import Foundation
import PhalanxCore
@testable import PhalanxNN
import Testing

/// Expects `actual` to match `expected` element by element within `tolerance`.
func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-5,
                 _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        #expect(abs(a - e) <= tolerance, "\(label)[\(i)]: \(a), expected \(e)", sourceLocation: sourceLocation)
    }
}

/// Runs the shared checker on a loss's input gradient and records one expectation.
func expectLossGradient(_ loss: Loss, input: Tensor, target: LossTarget, weights: [Float]? = nil,
                        normalizer: Float? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let result = GradientChecker().checkLoss(input: input) { x in
        let r = loss.evaluate(x, target: target, weights: weights, normalizer: normalizer)
        return (r.loss, r.gradient)
    }
    #expect(result.passed, "\(loss.kind) \(result)", sourceLocation: sourceLocation)
}

@Suite struct LossTests {
    // MARK: Gradient checks

    @Test func softmaxCrossEntropyGradients() {
        let loss = SoftmaxCrossEntropy()
        let x = randomTensor([4, 5], seed: 3, -2, 2)
        let labels: LossTarget = .labels([0, 4, 2, 2])
        expectLossGradient(loss, input: x, target: labels)
        expectLossGradient(loss, input: x, target: labels, weights: [0.5, 2, 0, 1])
        expectLossGradient(loss, input: x, target: labels, normalizer: 16)
        expectLossGradient(loss, input: x, target: labels, weights: [1, 3, 0.25, 1], normalizer: 10)
        // Soft targets: each row a distribution, the last row deliberately not summing to 1.
        let t = Tensor(shape: [4, 5], values: [0.2, 0.2, 0.2, 0.2, 0.2,  1, 0, 0, 0, 0,
                                               0, 0.5, 0.5, 0, 0,  0.1, 0.3, 0, 0, 0.2])
        expectLossGradient(loss, input: x, target: .values(t), weights: [1, 2, 1, 0.5], normalizer: 6)
    }

    @Test func binaryCrossEntropyGradients() {
        let loss = BinaryCrossEntropy()
        let x = randomTensor([3, 2, 2], seed: 4, -3, 3)
        let t = randomTensor([3, 2, 2], seed: 5, 0, 1)
        expectLossGradient(loss, input: x, target: .values(t))
        expectLossGradient(loss, input: x, target: .values(t), weights: [1, 0, 2.5])
        expectLossGradient(loss, input: x, target: .values(t), weights: [1, 2, 0.5], normalizer: 9)
        expectLossGradient(loss, input: randomTensor([4, 1], seed: 6, -3, 3), target: .labels([1, 0, 0, 1]),
                           normalizer: 8)
    }

    @Test func meanSquaredErrorGradients() {
        let loss = MeanSquaredError()
        let x = randomTensor([3, 4], seed: 8)
        let t = randomTensor([3, 4], seed: 9)
        expectLossGradient(loss, input: x, target: .values(t))
        expectLossGradient(loss, input: x, target: .values(t), weights: [0.5, 1, 3])
        expectLossGradient(loss, input: x, target: .values(t), weights: [2, 1, 1], normalizer: 12)
    }

    // MARK: Forward values computed by hand

    @Test func crossEntropyOfUniformLogitsIsLogK() {
        // Equal logits: p = 1/4 for every class, ℓ = log 4 for every row whatever the label;
        // ∂/∂x = (1/4 − [k = y]) / N with N = 2.
        let (loss, g) = SoftmaxCrossEntropy().evaluate(Tensor(shape: [2, 4]), target: .labels([0, 3]))
        #expect(abs(loss - log(4)) < 1e-6)
        expectClose(g.scalars, [-0.375, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, -0.375], "gradient")
    }

    @Test func crossEntropyMatchesHandComputation() {
        // x = [1, 2, 3], y = 2: log(e¹ + e² + e³) − 3 = log(1 + e⁻¹ + e⁻²) = 0.40760596.
        let (loss, g) = SoftmaxCrossEntropy().evaluate(Tensor(shape: [1, 3], values: [1, 2, 3]),
                                                       target: .labels([2]))
        #expect(abs(loss - 0.40760596) < 1e-6)
        // softmax = [e⁻², e⁻¹, 1] / (1 + e⁻¹ + e⁻²) = [0.09003057, 0.24472847, 0.66524096].
        expectClose(g.scalars, [0.09003057, 0.24472847, 0.66524096 - 1], "gradient")
    }

    @Test func crossEntropyIsStableForHugeLogits() {
        // Row 0: label 1 has logit −1000 against 1000: ℓ = 2000; row 1 is certain: ℓ = 0.
        let x = Tensor(shape: [2, 2], values: [1000, -1000, -1000, 1000])
        let (loss, g) = SoftmaxCrossEntropy().evaluate(x, target: .labels([1, 1]))
        #expect(loss.isFinite)
        #expect(abs(loss - 1000) < 1e-3)
        // p row 0 = [1, 0]: (p − e₁)/2 = [0.5, −0.5]; row 1: p = e₁, gradient 0.
        expectClose(g.scalars, [0.5, -0.5, 0, 0], "gradient")
    }

    @Test func weightsAndNormalizerScaleAsDocumented() {
        let x = randomTensor([2, 3], seed: 11, -2, 2)
        let loss = SoftmaxCrossEntropy()
        let each = [0, 1].map { i in
            loss.evaluate(Tensor(shape: [1, 3], values: Array(x.scalars[(3 * i)..<(3 * i + 3)])),
                          target: .labels([Int32(i)])).loss
        }
        // (2·ℓ₀ + 0·ℓ₁) / N with N = 2 is ℓ₀.
        let weighted = loss.evaluate(x, target: .labels([0, 1]), weights: [2, 0], normalizer: nil).loss
        #expect(abs(weighted - each[0]) < 1e-5)
        // (ℓ₀ + ℓ₁) / 8.
        let normalized = loss.evaluate(x, target: .labels([0, 1]), weights: nil, normalizer: 8).loss
        #expect(abs(normalized - (each[0] + each[1]) / 8) < 1e-5)
    }

    @Test func ranksWithTheGlobalNormalizerSumToTheFullBatch() {
        // Two ranks holding halves of a global batch of 4, each dividing by 4: their losses
        // and gradients add up to the single-process batch mean.
        let x = randomTensor([4, 3], seed: 12, -2, 2)
        let labels: [Int32] = [2, 0, 1, 1]
        let full = SoftmaxCrossEntropy().evaluate(x, target: .labels(labels))
        let fullLoss = full.loss, fullGradient = full.gradient.scalars
        var sumLoss: Float = 0
        var sumGradient: [Float] = []
        for half in 0..<2 {
            let slice = Tensor(shape: [2, 3], values: Array(x.scalars[(6 * half)..<(6 * half + 6)]))
            let r = SoftmaxCrossEntropy().evaluate(slice, target: .labels(Array(labels[(2 * half)..<(2 * half + 2)])),
                                                   weights: nil, normalizer: 4)
            sumLoss += r.loss
            sumGradient += r.gradient.scalars
        }
        #expect(abs(sumLoss - fullLoss) < 1e-6)
        expectClose(sumGradient, fullGradient, tolerance: 1e-7, "gradient")
    }

    @Test func largeBatchIsSplitOverChunksConsistently() {
        // 20 000 rows of 4 equal logits exceed one parallel chunk; the mean stays log 4.
        let (loss, g) = SoftmaxCrossEntropy().evaluate(Tensor(shape: [20_000, 4]),
                                                       target: .labels([Int32](repeating: 1, count: 20_000)))
        #expect(abs(loss - log(4)) < 1e-6)
        #expect(abs(g[4 * 19_999 + 1] - (-0.75 / 20_000)) < 1e-9)
    }

    @Test func binaryCrossEntropyMatchesHandComputation() {
        // ℓ = max(x,0) − x·t + log(1 + e^{−|x|}):
        //   x=0,t=1: log 2 = 0.69314718;   x=2,t=0: 2 + log(1 + e⁻²) = 2.12692801;
        //   x=−1000,t=1: 1000;             x=1000,t=1: 0.
        // Mean over the 4 elements: 1002.8200752 / 4 = 250.70501880.
        let x = Tensor(shape: [2, 2], values: [0, 2, -1000, 1000])
        let t = Tensor(shape: [2, 2], values: [1, 0, 1, 1])
        let (loss, g) = BinaryCrossEntropy().evaluate(x, target: .values(t))
        #expect(abs(loss - 250.70502) < 1e-3)
        // (σ(x) − t)/4: σ(2) = 0.88079708.
        expectClose(g.scalars, [-0.5 / 4, 0.88079708 / 4, -1.0 / 4, 0], "gradient")
        // The same decisions as 0/1 labels, one logit each.
        let fromLabels = BinaryCrossEntropy().evaluate(x.reshaped([4]), target: .labels([1, 0, 1, 1])).loss
        #expect(abs(fromLabels - loss) < 1e-4)
    }

    @Test func meanSquaredErrorMatchesHandComputation() {
        // d = x − t = [0, 2, −2, 0]: mean of d² = 8/4 = 2; gradient 2d/4 = [0, 1, −1, 0].
        let x = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        let t = Tensor(shape: [2, 2], values: [1, 0, 5, 4])
        let (loss, g) = MeanSquaredError().evaluate(x, target: .values(t))
        #expect(loss == 2)
        #expect(g.scalars == [0, 1, -1, 0])
        // Weights [3, 1]: (3·(0+4)/2 + 1·(4+0)/2) / 2 = (6 + 2)/2 = 4.
        #expect(MeanSquaredError().evaluate(x, target: .values(t), weights: [3, 1], normalizer: nil).loss == 4)
    }

    @Test func lossReusesItsGradientTensor() {
        let loss = MeanSquaredError()
        let a = loss.evaluate(Tensor(shape: [2, 2]), target: .values(Tensor(shape: [2, 2]))).gradient
        let b = loss.evaluate(Tensor(shape: [1, 2]), target: .values(Tensor(shape: [1, 2]))).gradient
        #expect(a === b)
        #expect(b.shape == [1, 2])
    }

    // MARK: Evaluation helpers

    @Test func correctCountTakesTheFirstArgmax() {
        // Row argmaxes: 1, 0, 2, and 0 for the tie (first index); labels 1, 1, 2, 0 → 3 correct.
        let logits = Tensor(shape: [4, 3], values: [0.1, 0.9, 0,  2, 1, 0,  0, 0, 5,  7, 7, 1])
        #expect(correctCount(logits: logits, labels: [1, 1, 2, 0]) == 3)
        #expect(correctCount(logits: logits, labels: [0, 0, 0, 1]) == 1)
    }

    @Test func softmaxProbabilitiesAreNormalizedAndStable() {
        // [0, log 3] → [1/4, 3/4]; [1000, −1000] → [1, 0] without overflow.
        let logits = Tensor(shape: [2, 2], values: [0, Float(log(3.0)), 1000, -1000])
        let p = Tensor(shape: [1])
        softmaxProbabilities(logits, into: p)
        #expect(p.shape == [2, 2])
        expectClose(p.scalars, [0.25, 0.75, 1, 0], tolerance: 1e-6, "probabilities")
    }

    @Test func lossKindsDecodeFromConfigNames() throws {
        let kinds = try JSONDecoder().decode([LossKind].self,
                                             from: Data(#"["cross_entropy", "binary_cross_entropy", "mse"]"#.utf8))
        #expect(kinds.map { $0.makeLoss().kind } == ["SoftmaxCrossEntropy", "BinaryCrossEntropy", "MeanSquaredError"])
    }
}
