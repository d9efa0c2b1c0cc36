import Foundation
import PhalanxCore
@testable import PhalanxNN
import Testing

@Suite struct ContractivePenaltyTests {
    /// A sigmoid code over a linear map 5 → 3, four samples.
    func setUp() -> (Linear, Sigmoid, Tensor) {
        var rng = RNG(seed: 8, stream: 1)
        let linear = Linear(inputs: 5, outputs: 3, rng: &rng)
        let x = Tensor(shape: [4, 5])
        rng.fillUniform(x, -2, 2)
        return (linear, Sigmoid(), x)
    }

    @Test func squaredNormIsTheJacobiansFrobeniusNorm() {
        let (linear, sigmoid, x) = setUp()
        let h = sigmoid.forward(linear.forward(x, mode: .evaluation), mode: .evaluation).copy()
        // ‖∂h/∂x‖²_F of each sample by central differences, summed.
        var numeric = 0.0
        let eps: Float = 1e-2
        for s in 0..<4 {
            for i in 0..<5 {
                let xp = x.copy(), xm = x.copy()
                xp[s * 5 + i] += eps; xm[s * 5 + i] -= eps
                let hp = sigmoid.forward(linear.forward(xp, mode: .evaluation), mode: .evaluation).copy()
                let hm = sigmoid.forward(linear.forward(xm, mode: .evaluation), mode: .evaluation).copy()
                for j in 0..<3 {
                    let d = Double(hp[s * 3 + j] - hm[s * 3 + j]) / Double(2 * eps)
                    numeric += d * d
                }
            }
        }
        let exact = ContractivePenalty.squaredNorms(code: h, weight: linear.weight.value)
        #expect(abs(exact - numeric) < 1e-3 * exact, "exact \(exact) numeric \(numeric)")
    }

    @Test func gradientsMatchFiniteDifferences() {
        let (linear, sigmoid, x) = setUp()
        let penalty = ContractivePenalty(lambda: 0.7)
        let scratch = Tensor(shape: [1]), unused = Tensor(shape: linear.weight.value.shape)
        func value() -> Double {
            let h = sigmoid.forward(linear.forward(x, mode: .training), mode: .training)
            return penalty.evaluate(code: h, weight: linear.weight.value, normalizer: 4, codeGradient: scratch,
                                    weightGradient: unused)
        }
        linear.zeroGradients()
        let h = sigmoid.forward(linear.forward(x, mode: .training), mode: .training)
        let codeGradient = Tensor(shape: [1])
        _ = penalty.evaluate(code: h, weight: linear.weight.value, normalizer: 4, codeGradient: codeGradient,
                             weightGradient: linear.weight.gradient)
        let dx = linear.backward(sigmoid.backward(codeGradient)).copy()
        let checks: [(String, Tensor, Tensor)] = [("weight", linear.weight.value, linear.weight.gradient.copy()),
                                                  ("bias", linear.bias!.value, linear.bias!.gradient.copy()),
                                                  ("input", x, dx)]
        for (label, tensor, analytic) in checks {
            for i in 0..<tensor.count {
                let old = tensor[i]
                tensor[i] = old + 1e-2; let up = value()
                tensor[i] = old - 1e-2; let down = value()
                tensor[i] = old
                let numeric = (up - down) / 2e-2
                let error = abs(numeric - Double(analytic[i])) / max(0.05, abs(numeric))
                #expect(error < 1e-2, "\(label)[\(i)]: analytic \(analytic[i]) numeric \(numeric)")
            }
        }
    }
}
