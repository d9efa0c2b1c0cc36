// Tests for the auxiliary classifier: an identity in the network, a weighted loss and
// its gradient in training, nothing at all in evaluation.
import PhalanxCore
@testable import PhalanxNN
import Testing

@Suite struct AuxiliaryTests {
    private func head(_ rng: inout RNG) -> Sequential {
        Sequential([("fc1", Linear(inputs: 6, outputs: 4, rng: &rng)), ("act", Tanh()),
                    ("fc2", Linear(inputs: 4, outputs: 3, rng: &rng))])
    }

    @Test func gradientsIncludeTheWeightedHeadLoss() {
        var rng = RNG(seed: 11)
        let aux = Auxiliary(head: head(&rng), loss: SoftmaxCrossEntropy(), weight: 0.3)
        aux.target = .labels([0, 2, 1, 2])
        expectGradients(aux, input: randomTensor([4, 6]), internalLoss: { aux.lastLoss })
        // The same block inside a network, behind a layer whose gradient it changes.
        let net = Sequential([("fc0", Linear(inputs: 5, outputs: 6, rng: &rng)), ("aux1", aux),
                              ("fc3", Linear(inputs: 6, outputs: 2, rng: &rng))])
        expectGradients(net, input: randomTensor([4, 5], seed: 3), internalLoss: { aux.lastLoss })
    }

    @Test func identityInEvaluationAndWithoutTarget() {
        var rng = RNG(seed: 12)
        let aux = Auxiliary(head: head(&rng), loss: SoftmaxCrossEntropy())
        let x = randomTensor([2, 6])
        aux.target = .labels([1, 0])
        #expect(aux.forward(x, mode: .evaluation).scalars == x.scalars)
        #expect(aux.lastLoss == 0 && aux.lastLogits == nil)
        let g = randomTensor([2, 6], seed: 9)
        #expect(aux.backward(g).scalars == g.scalars)
        aux.target = nil
        #expect(aux.forward(x, mode: .training).scalars == x.scalars)
        #expect(aux.lastLoss == 0)
    }

    @Test func lossIsWeightedAndNamesArePrefixed() {
        var rng = RNG(seed: 13)
        let h = head(&rng)
        let aux = Auxiliary(head: h, loss: SoftmaxCrossEntropy(), weight: 0.5)
        let net = Sequential([("aux1", aux)])
        #expect(net.parameters.map(\.name) == ["aux1.fc1.weight", "aux1.fc1.bias", "aux1.fc2.weight", "aux1.fc2.bias"])
        let x = randomTensor([3, 6])
        aux.target = .labels([2, 2, 0])
        _ = net.forward(x, mode: .training)
        let direct = SoftmaxCrossEntropy().evaluate(h.forward(x, mode: .training), target: .labels([2, 2, 0])).loss
        #expect(abs(aux.lastLoss - 0.5 * direct) < 1e-6)
    }
}
