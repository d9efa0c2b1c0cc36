// The contractive penalty: λ·‖J_f(x)‖²_F, the squared Frobenius norm of the encoder's
// Jacobian, averaged over the samples.
//
// Rifai, Vincent, Muller, Glorot & Bengio, "Contractive Auto-Encoders: Explicit Invariance
// During Feature Extraction" (ICML 2011), eq. 5: for a sigmoid code h = σ(Wx + b),
//     ‖J‖²_F = Σⱼ (hⱼ(1 − hⱼ))² · Σᵢ Wⱼᵢ²,
// exact and cheap (no Jacobian is formed). With aⱼ = hⱼ(1 − hⱼ) and sⱼ = ‖Wⱼ‖²:
//     ∂/∂hⱼ = 2aⱼ(1 − 2hⱼ)·sⱼ        (flows back through σ and the linear map),
//     ∂/∂Wⱼᵢ (direct) = 2aⱼ²·Wⱼᵢ.
// J is taken with respect to the linear map's input: x itself when the encoder is one
// layer, as in the paper. Each sample's term is divided by `normalizer` (the global
// batch), so the ranks' parts add up to the batch mean.
import PhalanxCore

/// λ‖J‖²_F for a sigmoid code over a linear map.
public struct ContractivePenalty: Sendable {
    /// λ, the penalty's weight.
    public let lambda: Float

    public init(lambda: Float) {
        precondition(lambda >= 0 && lambda.isFinite, "ContractivePenalty: lambda must be finite and non-negative")
        self.lambda = lambda
    }

    /// Σ over the samples of ‖J‖²_F for codes `code` [N, J] of the linear map `weight` [J, I].
    public static func squaredNorms(code: Tensor, weight: Tensor) -> Double {
        let n = code.shape[0], units = weight.shape[0], inputs = weight.count / max(units, 1)
        let rows = rowSquares(weight, units: units, inputs: inputs)
        var total = 0.0
        for s in 0..<n {
            for j in 0..<units {
                let h = Double(code[s * units + j]), a = h * (1 - h)
                total += a * a * rows[j]
            }
        }
        return total
    }

    /// The penalty of this rank's samples, λ/`normalizer`·Σ‖J‖²_F; writes ∂/∂h into
    /// `codeGradient` (shaped like `code`) and adds the direct ∂/∂W to `weightGradient`.
    public func evaluate(code: Tensor, weight: Tensor, normalizer: Float, codeGradient: Tensor,
                         weightGradient: Tensor) -> Double {
        let n = code.shape[0], units = weight.shape[0], inputs = weight.count / max(units, 1)
        precondition(code.count == n * units, "ContractivePenalty: code \(code.shape) does not match weight \(weight.shape)")
        codeGradient.resize(code.shape)
        let rows = Self.rowSquares(weight, units: units, inputs: inputs)
        let scale = Double(lambda) / Double(normalizer)
        var total = 0.0
        var direct = [Double](repeating: 0, count: units)
        for s in 0..<n {
            for j in 0..<units {
                let h = Double(code[s * units + j]), a = h * (1 - h)
                total += a * a * rows[j]
                direct[j] += a * a
                codeGradient[s * units + j] = Float(scale * 2 * a * (1 - 2 * h) * rows[j])
            }
        }
        let w = weight.data, g = weightGradient.data
        for j in 0..<units {
            let c = Float(scale * 2 * direct[j])
            for i in 0..<inputs { g[j * inputs + i] += c * w[j * inputs + i] }
        }
        return scale * total
    }

    private static func rowSquares(_ weight: Tensor, units: Int, inputs: Int) -> [Double] {
        (0..<units).map { j in
            var s = 0.0
            for i in 0..<inputs { let v = Double(weight[j * inputs + i]); s += v * v }
            return s
        }
    }
}
