// Finite-difference gradient checker shared by every layer and loss test (Caffe's
// GradientChecker, central differences).
//
// The checked scalar is L = Σ yᵢ·rᵢ with a fixed random projection r, accumulated in
// Double, so dL/dy = r and every output element takes part. Each input and parameter
// element is nudged by ±step and (L₊ − L₋)/(2·step) is compared with the analytic
// gradient: |analytic − numeric| ≤ threshold · max(|analytic|, |numeric|, floor).
import PhalanxCore

/// The outcome for one checked tensor.
public struct GradientCheckResult: CustomStringConvertible, Sendable {
    /// `input` or the parameter's name.
    public var label: String
    /// The largest |analytic − numeric| / max(|analytic|, |numeric|, floor).
    public var maxRelativeError: Float
    /// The element where it occurred, with both values.
    public var worstIndex: Int
    public var analytic: Float
    public var numeric: Float
    public var passed: Bool

    public var description: String {
        "\(passed ? "ok  " : "FAIL") \(label): max rel. error \(maxRelativeError) at [\(worstIndex)] analytic \(analytic) numeric \(numeric)"
    }
}

/// Central-difference gradient checks with a fixed seed.
public struct GradientChecker: Sendable {
    public var step: Float
    public var threshold: Float
    public var floor: Float
    public var seed: UInt64

    public init(step: Float = 1e-2, threshold: Float = 1e-2, floor: Float = 0.1, seed: UInt64 = 1701) {
        self.step = step
        self.threshold = threshold
        self.floor = floor
        self.seed = seed
    }

    /// Checks dL/dInput (unless `checkInput` is false) and dL/dParameter for every
    /// parameter of `layer` at `input`. Forward must be deterministic for a fixed input.
    /// `internalLoss`, read after each forward, is a loss the layer adds by itself (an
    /// auxiliary classifier's) and whose gradient its backward includes; it joins L.
    public func check(_ layer: Layer, input: Tensor, mode: Mode = .training,
                      checkInput: Bool = true, internalLoss: () -> Float = { 0 }) -> [GradientCheckResult] {
        let outShape = layer.forward(input, mode: mode).shape
        var rng = RNG(seed: seed, stream: 99)
        let r = Tensor(shape: outShape)
        rng.fillUniform(r, -1, 1)

        func loss() -> Double {
            let y = layer.forward(input, mode: mode)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
            return s + Double(internalLoss())
        }

        // Analytic gradients.
        layer.zeroGradients()
        _ = layer.forward(input, mode: mode)
        let dxAnalytic = layer.backward(r).copy()
        let paramGrads = layer.parameters.map { $0.gradient.copy() }

        var results: [GradientCheckResult] = []
        if checkInput {
            results.append(compare("input", tensor: input, analytic: dxAnalytic, loss: loss))
        }
        for (p, g) in zip(layer.parameters, paramGrads) {
            results.append(compare(p.name, tensor: p.value, analytic: g, loss: loss))
        }
        return results
    }

    /// Checks the input gradient of a loss function `f(x) -> (loss, dLoss/dx)`.
    public func checkLoss(input: Tensor, _ f: (Tensor) -> (Float, Tensor)) -> GradientCheckResult {
        let analytic = f(input).1.copy()
        return compare("input", tensor: input, analytic: analytic) { Double(f(input).0) }
    }

    /// Compares `analytic` with central differences of `loss` taken by nudging `tensor`.
    public func compare(_ label: String, tensor: Tensor, analytic: Tensor,
                        loss: () -> Double) -> GradientCheckResult {
        precondition(analytic.count == tensor.count, "GradientChecker: gradient of \(label) has \(analytic.count) elements, tensor \(tensor.count)")
        var worst = GradientCheckResult(label: label, maxRelativeError: 0, worstIndex: -1,
                                        analytic: 0, numeric: 0, passed: true)
        for i in 0..<tensor.count {
            let saved = tensor[i]
            tensor[i] = saved + step
            let plus = loss()
            tensor[i] = saved - step
            let minus = loss()
            tensor[i] = saved
            let numeric = Float((plus - minus) / (2 * Double(step)))
            let a = analytic[i]
            let err = abs(a - numeric) / max(abs(a), abs(numeric), floor)
            if err > worst.maxRelativeError || worst.worstIndex < 0 {
                worst.maxRelativeError = err
                worst.worstIndex = i
                worst.analytic = a
                worst.numeric = numeric
            }
        }
        worst.passed = worst.maxRelativeError <= threshold
        return worst
    }
}
