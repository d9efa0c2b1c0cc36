import Foundation
import PhalanxCore
@testable import PhalanxNN
import Testing

/// A parameter with the given values and a fixed gradient.
private func parameter(_ name: String, _ values: [Float], gradient: [Float],
                       decays: Bool = true, requiresGrad: Bool = true) -> Parameter {
    let p = Parameter(name: name, value: Tensor(shape: [values.count], values: values),
                      requiresGrad: requiresGrad, decays: decays)
    p.gradient.copy(from: Tensor(shape: [gradient.count], values: gradient))
    return p
}

/// A decaying parameter named `w`.
private func parameter(_ values: [Float], gradient: [Float]) -> Parameter {
    parameter("w", values, gradient: gradient)
}

/// The values of `p` after each of `steps` steps with its (unchanged) gradient.
private func trajectory(_ optimizer: Optimizer, _ p: Parameter, steps: Int) -> [[Float]] {
    (0..<steps).map { _ in
        optimizer.step([p])
        return p.value.scalars
    }
}

/// The optimizers with state, by name, for parameterized tests.
private let statefulOptimizers: [String: @Sendable () -> Optimizer] = [
    "SGD momentum": { SGD(learningRate: 0.1, momentum: 0.9) },
    "SGD Nesterov": { SGD(learningRate: 0.1, momentum: 0.9, nesterov: true, regularization: .l2(0.01)) },
    "AdaGrad": { AdaGrad(learningRate: 0.1) },
    "RMSProp": { RMSProp(learningRate: 0.01) },
    "Adam": { Adam(learningRate: 0.1, regularization: .elasticNet(l1: 0.01, l2: 0.01)) },
]

@Suite struct OptimizerTests {
    // MARK: Updates against hand computation; θ₀ = [1, −2], g = [0.5, 1] unless stated.

    @Test func sgdPlain() {
        // θ ← θ − 0.1·g: [0.95, −2.1], then [0.9, −2.2].
        let p = parameter([1, -2], gradient: [0.5, 1])
        let t = trajectory(SGD(learningRate: 0.1), p, steps: 2)
        expectClose(t[0], [0.95, -2.1], "step 1")
        expectClose(t[1], [0.9, -2.2], "step 2")
    }

    @Test func sgdMomentum() {
        // v ← 0.9v − 0.1g;  θ ← θ + v.
        // 1: v = [−0.05, −0.1]                        θ = [0.95, −2.1]
        // 2: v = 0.9·[−0.05, −0.1] − [0.05, 0.1] = [−0.095, −0.19]     θ = [0.855, −2.29]
        // 3: v = 0.9·[−0.095, −0.19] − [0.05, 0.1] = [−0.1355, −0.271] θ = [0.7195, −2.561]
        let p = parameter([1, -2], gradient: [0.5, 1])
        let t = trajectory(SGD(learningRate: 0.1, momentum: 0.9), p, steps: 3)
        expectClose(t[0], [0.95, -2.1], "step 1")
        expectClose(t[1], [0.855, -2.29], "step 2")
        expectClose(t[2], [0.7195, -2.561], "step 3")
    }

    @Test func sgdNesterov() {
        // v ← 0.9v − 0.1g;  θ ← θ + 0.9v − 0.1g.
        // 1: v = [−0.05, −0.1];   θ += [−0.045 − 0.05, −0.09 − 0.1]     = [0.905, −2.19]
        // 2: v = [−0.095, −0.19]; θ += [−0.0855 − 0.05, −0.171 − 0.1]   = [0.7695, −2.461]
        let p = parameter([1, -2], gradient: [0.5, 1])
        let t = trajectory(SGD(learningRate: 0.1, momentum: 0.9, nesterov: true), p, steps: 2)
        expectClose(t[0], [0.905, -2.19], "step 1")
        expectClose(t[1], [0.7695, -2.461], "step 2")
    }

    @Test func nesterovMatchesPyTorchFormulationAtConstantRate() {
        // PyTorch: b ← μb + g (b = g on step 1); θ ← θ − ρ(g + μb). Varying gradients.
        let rho: Float = 0.05, mu: Float = 0.8
        let p = parameter([0.3, -0.7, 1.1], gradient: [0, 0, 0])
        let optimizer = SGD(learningRate: rho, momentum: mu, nesterov: true)
        var theta = p.value.scalars, buffer = [Float](repeating: 0, count: 3)
        var rng = RNG(seed: 5)
        for step in 0..<5 {
            rng.fillUniform(p.gradient, -1, 1)
            let g = p.gradient.scalars
            for i in 0..<3 {
                buffer[i] = step == 0 ? g[i] : mu * buffer[i] + g[i]
                theta[i] -= rho * (g[i] + mu * buffer[i])
            }
            optimizer.step([p])
        }
        expectClose(p.value.scalars, theta, tolerance: 1e-6, "θ after 5 steps")
    }

    @Test func sgdWithL2DecaysOnlyDecayingParameters() {
        // λ₂ = 0.5, ρ = 0.1: θ ← (1 − 2·0.1·0.5)θ − 0.1g = 0.9θ − 0.1g.
        // 1: [0.9 − 0.05, −1.8 − 0.1] = [0.85, −1.9];  2: [0.765 − 0.05, −1.71 − 0.1] = [0.715, −1.81]
        let w = parameter([1, -2], gradient: [0.5, 1])
        let b = parameter("b", [1], gradient: [0], decays: false)
        let sgd = SGD(learningRate: 0.1, regularization: .l2(0.5))
        sgd.step([w, b])
        expectClose(w.value.scalars, [0.85, -1.9], "step 1")
        sgd.step([w, b])
        expectClose(w.value.scalars, [0.715, -1.81], "step 2")
        #expect(b.value.scalars == [1])
        #expect(w.gradient.scalars == [0.5, 1], "the penalty must not be written into the gradient")
    }

    @Test func sgdWithL1() {
        // λ₁ = 0.2, ρ = 0.1: θ ← θ − 0.02·sign θ − 0.1g; sign 0 = 0 keeps the zero at zero.
        // 1: [1 − 0.02 − 0.05, −2 + 0.02 − 0.1, 0] = [0.93, −2.08, 0]
        // 2: [0.93 − 0.07, −2.08 − 0.08, 0]         = [0.86, −2.16, 0]
        let p = parameter([1, -2, 0], gradient: [0.5, 1, 0])
        let t = trajectory(SGD(learningRate: 0.1, regularization: .l1(0.2)), p, steps: 2)
        expectClose(t[0], [0.93, -2.08, 0], "step 1")
        expectClose(t[1], [0.86, -2.16, 0], "step 2")
    }

    @Test func sgdWithElasticNet() {
        // λ₁ = 0.2, λ₂ = 0.5, ρ = 0.1: θ ← 0.9θ − 0.02·sign θ − 0.1g.
        // 1: [0.9 − 0.02 − 0.05, −1.8 + 0.02 − 0.1]     = [0.83, −1.88]
        // 2: [0.747 − 0.02 − 0.05, −1.692 + 0.02 − 0.1] = [0.677, −1.772]
        let p = parameter([1, -2], gradient: [0.5, 1])
        let t = trajectory(SGD(learningRate: 0.1, regularization: .elasticNet(l1: 0.2, l2: 0.5)), p, steps: 2)
        expectClose(t[0], [0.83, -1.88], "step 1")
        expectClose(t[1], [0.677, -1.772], "step 2")
    }

    @Test func adaGrad() {
        // g = [3, −4], ρ = 0.1: G ← G + g²;  θ ← θ − 0.1·g/√G.
        // 1: G = [9, 16];  g/√G = [1, −1]         θ = [0.9, −1.9]
        // 2: G = [18, 32]; g/√G = ±1/√2 = ±0.70710678  θ = [0.82928932, −1.82928932]
        // 3: G = [27, 48]; g/√G = ±1/√3 = ±0.57735027  θ = [0.77155429, −1.77155429]
        let p = parameter([1, -2], gradient: [3, -4])
        let t = trajectory(AdaGrad(learningRate: 0.1), p, steps: 3)
        expectClose(t[0], [0.9, -1.9], "step 1")
        expectClose(t[1], [0.82928932, -1.82928932], "step 2")
        expectClose(t[2], [0.77155429, -1.77155429], "step 3")
    }

    @Test func rmsProp() {
        // g = [3, −4], ρ = 0.01, β = 0.99: with a constant g, E = (1 − 0.99ᵗ)·g², so
        // g/√E = sign g / √(1 − 0.99ᵗ):  t=1: 1/√0.01 = 10;  t=2: 1/√0.0199 = 7.08881205;
        // t=3: 1/√0.029701 = 5.80249085.  θ moves by ∓0.01 times that each step:
        // [0.9, −1.9], [0.82911188, −1.82911188], [0.77108698, −1.77108698].
        let p = parameter([1, -2], gradient: [3, -4])
        let rms = RMSProp(learningRate: 0.01)
        #expect(rms.decay == 0.99 && rms.epsilon == 1e-8)
        let t = trajectory(rms, p, steps: 3)
        expectClose(t[0], [0.9, -1.9], "step 1")
        expectClose(t[1], [0.82911188, -1.82911188], "step 2")
        expectClose(t[2], [0.77108698, -1.77108698], "step 3")
    }

    @Test func adam() {
        // ρ = 0.1, β₁ = 0.9, β₂ = 0.999; g₁ = [3, −4], g₂ = [1, 2].
        // 1: m = [0.3, −0.4], v = [0.009, 0.016]; m̂ = m/0.1 = [3, −4], v̂ = v/0.001 = [9, 16]
        //    θ = [1, −2] − 0.1·[3/3, −4/4] = [0.9, −1.9]
        // 2: m = 0.9·[0.3, −0.4] + 0.1·[1, 2] = [0.37, −0.16]
        //    v = 0.999·[0.009, 0.016] + 0.001·[1, 4] = [0.009991, 0.019984]
        //    m̂ = m/0.19 = [1.94736842, −0.84210526]; v̂ = v/0.001999 = [4.99799900, 9.99699850]
        //    θ = [0.9, −1.9] − 0.1·m̂/√v̂ = [0.9 − 0.08710639, −1.9 + 0.02663370]
        let p = parameter([1, -2], gradient: [3, -4])
        let adam = Adam(learningRate: 0.1)
        adam.step([p])
        expectClose(p.value.scalars, [0.9, -1.9], "step 1")
        p.gradient.copy(from: Tensor(shape: [2], values: [1, 2]))
        adam.step([p])
        expectClose(p.value.scalars, [0.81289361, -1.87336630], "step 2")
        expectClose(adam.stateTensors()["w.exp_avg"]!.scalars, [0.37, -0.16], "m")
        // 1 − β₂ is 0.00099998713 in Float (β₂ = 0.99900001), 1.3e-5 off 0.001 relatively.
        expectClose(adam.stateTensors()["w.exp_avg_sq"]!.scalars, [0.009991, 0.019984], tolerance: 5e-7, "v")
    }

    @Test func adamWithL2() {
        // λ₂ = 0.5: Adam sees g + θ.  1: g' = [0.5 + 1, 1 − 2] = [1.5, −1] → θ = [0.9, −1.9]
        // 2: g' = [1.4, −0.9]; m = [0.275, −0.18], v = [0.00420775, 0.001809];
        //    m̂ = [1.44736842, −0.94736842], v̂ = [2.10492746, 0.90495248]
        //    θ = [0.9 − 0.09976094, −1.9 + 0.09958770] = [0.80023906, −1.80041223]
        let p = parameter([1, -2], gradient: [0.5, 1])
        let t = trajectory(Adam(learningRate: 0.1, regularization: .l2(0.5)), p, steps: 2)
        expectClose(t[0], [0.9, -1.9], "step 1")
        expectClose(t[1], [0.80023906, -1.80041223], "step 2")
    }

    @Test func frozenParametersAreSkipped() {
        let frozen = parameter("frozen", [1, 2], gradient: [5, 5], requiresGrad: false)
        let w = parameter([1, -2], gradient: [0.5, 1])
        let adam = Adam(learningRate: 0.1, regularization: .l2(0.1))
        adam.step([frozen, w])
        #expect(frozen.value.scalars == [1, 2])
        #expect(adam.stateTensors().keys.sorted() == ["w.exp_avg", "w.exp_avg_sq"])
        #expect(adam.stepCount == 1)
    }

    @Test func largeParametersSplitOverChunksUpdateEveryElement() {
        // 100 000 copies of the momentum example: every element follows the 3-step trajectory.
        let n = 100_000
        let p = parameter([Float](repeating: 1, count: n), gradient: [Float](repeating: 0.5, count: n))
        let t = trajectory(SGD(learningRate: 0.1, momentum: 0.9), p, steps: 3)
        #expect(t[2].allSatisfy { abs($0 - 0.7195) < 1e-5 })
    }

    // MARK: State by parameter name

    @Test func stateIsNamedAfterParameterAndSlot() {
        let w = parameter("fc1.weight", [1, 2], gradient: [1, 1])
        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        sgd.step([w])
        #expect(Array(sgd.stateTensors().keys) == ["fc1.weight.momentum"])
        #expect(SGD(learningRate: 0.1).slotNames.isEmpty)
        #expect(AdaGrad().slotNames == ["sum"] && RMSProp().slotNames == ["square_avg"])
    }

    @Test(arguments: statefulOptimizers.keys.sorted())
    func stateRoundTripContinuesIdentically(_ name: String) throws {
        let make = statefulOptimizers[name]!
        let a = parameter("fc.weight", [0.5, -1.5, 2], gradient: [0.3, -0.2, 0.9])
        let bias = parameter("fc.bias", [0.1], gradient: [-0.4], decays: false)
        let original = make()
        for _ in 0..<2 { original.step([a, bias]) }

        // Copy the state (as a checkpoint would) and the parameters, then continue both.
        let saved = original.stateTensors().mapValues { $0.copy() }
        let a2 = parameter("fc.weight", a.value.scalars, gradient: a.gradient.scalars)
        let bias2 = parameter("fc.bias", bias.value.scalars, gradient: bias.gradient.scalars, decays: false)
        let restored = make()
        try restored.loadState(saved, step: original.stepCount, parameters: [a2, bias2])
        #expect(restored.stepCount == 2)
        for _ in 0..<2 {
            original.step([a, bias])
            restored.step([a2, bias2])
        }
        #expect(a2.value.scalars == a.value.scalars, "\(name) weight")
        #expect(bias2.value.scalars == bias.value.scalars, "\(name) bias")
    }

    @Test func loadStateNamesWhatDoesNotFit() throws {
        let w = parameter("fc.weight", [1, 2], gradient: [1, 1])
        let adam = Adam()
        adam.step([w])
        let state = adam.stateTensors()

        var missing = state
        missing["fc.weight.exp_avg_sq"] = nil
        #expect(throws: OptimizerStateError.missingTensor(name: "fc.weight.exp_avg_sq", optimizer: "Adam")) {
            try Adam().loadState(missing, step: 1, parameters: [w])
        }
        var reshaped = state
        reshaped["fc.weight.exp_avg"] = Tensor(shape: [1, 2])
        #expect(throws: OptimizerStateError.shapeMismatch(name: "fc.weight.exp_avg", expected: [2], found: [1, 2])) {
            try Adam().loadState(reshaped, step: 1, parameters: [w])
        }
        #expect(throws: OptimizerStateError.unexpectedTensor(name: "fc.weight.exp_avg", optimizer: "SGD")) {
            try SGD(learningRate: 0.1).loadState(state, step: 1, parameters: [w])
        }
        #expect(throws: OptimizerStateError.missingTensor(name: "fc.weight.momentum", optimizer: "SGD")) {
            try SGD(learningRate: 0.1, momentum: 0.9).loadState(state, step: 1, parameters: [w])
        }
        // A failed load leaves the optimizer as it was; an empty state is fine before step 1.
        #expect(throws: OptimizerStateError.negativeStep(-1)) { try adam.loadState(state, step: -1, parameters: [w]) }
        #expect(adam.stepCount == 1 && adam.stateTensors().count == 2)
        try adam.loadState([:], step: 0, parameters: [w])
        #expect(adam.stepCount == 0 && adam.stateTensors().isEmpty)
        let message = OptimizerStateError.missingTensor(name: "fc.weight.exp_avg_sq", optimizer: "Adam").description
        #expect(message.contains("fc.weight.exp_avg_sq") && message.contains("Adam"))
    }

    // MARK: Penalties

    @Test func penaltyGradientMatchesFiniteDifferences() {
        // Values away from the L1 kink at 0 (the checker steps by 0.01).
        let reg = Regularization.elasticNet(l1: 0.3, l2: 0.7)
        let p = parameter([0.5, -0.7, 1.2, -0.05], gradient: [0, 0, 0, 0])
        let penalized = Tensor(shape: [4])
        let result = GradientChecker().checkLoss(input: p.value) { _ in
            reg.penalizedGradient(value: p.value, gradient: p.gradient, into: penalized)
            return (Float(reg.penalty([p])), penalized)
        }
        #expect(result.passed, "\(result)")
        // 0.3·(0.5 + 0.7 + 1.2 + 0.05) + 0.7·(0.25 + 0.49 + 1.44 + 0.0025) = 0.735 + 1.52775.
        #expect(abs(reg.penalty([p]) - 2.26275) < 1e-6)
        #expect(reg.penalty([parameter("b", [3], gradient: [0], decays: false)]) == 0)
    }

    @Test func regularizationDecodesWithDefaultsAndRejectsNegatives() throws {
        let decoded = try JSONDecoder().decode(Regularization.self, from: Data(#"{"l2": 0.0005}"#.utf8))
        #expect(decoded == Regularization(l1: 0, l2: 0.0005))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Regularization.self, from: Data(#"{"l1": -1}"#.utf8))
        }
    }

    // MARK: Gradient clipping

    @Test func clippingScalesToTheMaximumNorm() {
        // ‖([3, 4], [12])‖ = √(9 + 16 + 144) = 13; limit 6.5 → factor 6.5/(13 + 1e-6) ≈ 1/2.
        // The frozen parameter counts for nothing and keeps its gradient.
        let a = parameter("a", [0, 0], gradient: [3, 4])
        let b = parameter("b", [0], gradient: [12])
        let frozen = parameter("f", [0], gradient: [100], requiresGrad: false)
        let norm = clipGradientNorm([a, b, frozen], maxNorm: 6.5)
        #expect(abs(norm - 13) < 1e-6)
        expectClose(a.gradient.scalars + b.gradient.scalars, [1.5, 2, 6], tolerance: 1e-6, "clipped")
        #expect(frozen.gradient.scalars == [100])
        #expect(abs(gradientNorm([a, b]) - 6.5) < 1e-5)
    }

    @Test func clippingUnderTheLimitChangesNothing() {
        let a = parameter("a", [0, 0], gradient: [3, 4])
        #expect(clipGradientNorm([a], maxNorm: 20) == 5)
        #expect(a.gradient.scalars == [3, 4])
    }

    @Test func clippingLeavesNonFiniteGradientsForTheCallerToSee() {
        let a = parameter("a", [0, 0], gradient: [.infinity, 1])
        #expect(clipGradientNorm([a], maxNorm: 1).isInfinite)
        #expect(a.gradient.scalars == [.infinity, 1])
    }

    // MARK: End to end

    @Test(arguments: ["SGD", "SGD momentum", "SGD Nesterov", "AdaGrad", "RMSProp", "Adam"])
    func everyOptimizerFitsASmallClassifier(_ name: String) {
        let optimizer: Optimizer = name == "SGD" ? SGD(learningRate: 0.5) : statefulOptimizers[name]!()
        var rng = RNG(seed: 21)
        let model = Sequential([("fc", Linear(inputs: 4, outputs: 3, rng: &rng))])
        let x = randomTensor([12, 4], seed: 22)
        // Labels from a fixed linear rule, so the data are separable.
        let labels: [Int32] = (0..<12).map { i in
            let r = x.data + 4 * i
            return r[0] > r[1] ? 0 : (r[2] > 0 ? 1 : 2)
        }
        let loss = SoftmaxCrossEntropy()
        func trainStep() -> Float {
            model.zeroGradients()
            let (l, g) = loss.evaluate(model.forward(x, mode: .training), target: .labels(labels))
            _ = model.backward(g)
            optimizer.step(model.parameters)
            return l
        }
        let first = trainStep()
        var last = first
        for _ in 0..<60 { last = trainStep() }
        #expect(last < 0.6 * first, "\(name): loss \(first) → \(last)")
    }
}
