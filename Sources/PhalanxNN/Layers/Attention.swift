// Attention over an encoder's states, Luong, Pham & Manning, "Effective Approaches to
// Attention-based Neural Machine Translation" (2015): the "general" score and the
// attentional hidden state.
//
//     score(t, s) = d_t · (W_a e_s)                      d: decoder states [N, T, H]
//     α_t = softmax over the real source steps s < len   e: encoder states [N, S, H]
//     c_t = Σ_s α_ts e_s
//     out_t = tanh(W_c [c_t ; d_t] + b_c)               [N, T, H]
//
// Padded source steps (s ≥ len[n]) get weight 0. Names: `weight` (W_a [H, H]),
// `combine.weight` [H, 2H] and `combine.bias` [H] — an nn.Parameter and an nn.Linear
// `combine` in the PyTorch twin. Every decoder step attends independently, so with
// teacher forcing all T steps run as a few GEMMs per sequence.
import Foundation
import PhalanxCore

public final class Attention {
    public let hidden: Int
    public let weight: Parameter
    public let combineWeight: Parameter
    public let combineBias: Parameter

    private var decoder: Tensor?
    private var encoder: Tensor?
    private var lengths: [Int] = []
    private let keys = Tensor(shape: [0])
    /// α [N, T, S] of the last forward.
    public let weights = Tensor(shape: [0])
    private let joined = Tensor(shape: [0])
    private let output = Tensor(shape: [0])
    private let dPre = Tensor(shape: [0])
    private let dJoined = Tensor(shape: [0])
    private let dWeights = Tensor(shape: [0])
    private let dKeys = Tensor(shape: [0])
    public let decoderGradient = Tensor(shape: [0])
    public let encoderGradient = Tensor(shape: [0])

    /// Glorot-uniform W_a and W_c (PyTorch's nn.Linear bound ±1/√fan_in for b_c).
    public init(hidden: Int, rng: inout RNG) {
        precondition(hidden > 0, "Attention: hidden size must be positive")
        self.hidden = hidden
        let wa = Tensor(shape: [hidden, hidden]), wc = Tensor(shape: [hidden, 2 * hidden]), bc = Tensor(shape: [hidden])
        let a = (6 / Float(2 * hidden)).squareRoot(), c = (6 / Float(3 * hidden)).squareRoot()
        rng.fillUniform(wa, -a, a)
        rng.fillUniform(wc, -c, c)
        let b = 1 / Float(2 * hidden).squareRoot()
        rng.fillUniform(bc, -b, b)
        weight = Parameter(name: "weight", value: wa)
        combineWeight = Parameter(name: "combine.weight", value: wc)
        combineBias = Parameter(name: "combine.bias", value: bc, decays: false)
    }

    public var parameters: [Parameter] { [weight, combineWeight, combineBias] }

    /// decoder [N, T, H], encoder [N, S, H], the source lengths → [N, T, H] (owned by the
    /// layer). The inputs must stay unchanged until `backward`.
    public func forward(decoder d: Tensor, encoder e: Tensor, lengths: [Int]) -> Tensor {
        let N = d.shape[0], T = d.shape[1], H = hidden, S = e.shape[1]
        precondition(d.rank == 3 && d.shape[2] == H && e.rank == 3 && e.shape[0] == N && e.shape[2] == H,
                     "Attention: decoder \(describe(d.shape)) and encoder \(describe(e.shape)) states must be [N, ·, \(H)]")
        precondition(lengths.count == N && lengths.allSatisfy { $0 >= 0 && $0 <= S },
                     "Attention: \(lengths.count) source lengths for \(N) sequences of at most \(S) steps")
        decoder = d; encoder = e; self.lengths = lengths
        keys.resize([N, S, H]); weights.resize([N, T, S]); joined.resize([N, T, 2 * H]); output.resize([N, T, H])
        let pd = d.data, pe = e.data, pk = keys.data, pw = weights.data, pj = joined.data
        // keys = E·W_aᵀ for every source step of every sequence.
        BLAS.gemm(transB: true, m: N * S, n: H, k: H, pe, weight.value.data, pk)
        Parallel.forEach(N, grain: 1) { range in
            for n in range {
                let w = pw + n * T * S, len = lengths[n]
                // scores = D_n·K_nᵀ [T, S], softmax over s < len.
                BLAS.gemm(transB: true, m: T, n: S, k: H, pd + n * T * H, pk + n * S * H, w)
                for t in 0..<T {
                    let row = w + t * S
                    if len > 0 {
                        var m = -Float.infinity
                        for s in 0..<len { m = max(m, row[s]) }
                        var total: Float = 0
                        for s in 0..<len { row[s] = expf(row[s] - m); total += row[s] }
                        let inv = 1 / total
                        for s in 0..<len { row[s] *= inv }
                    }
                    for s in len..<S { row[s] = 0 }
                }
                // context = α·E_n into the first half of each joined row, d_t into the second.
                BLAS.gemm(m: T, n: H, k: S, w, pe + n * S * H, pj + n * T * 2 * H, ldc: 2 * H)
                for t in 0..<T {
                    (pj + (n * T + t) * 2 * H + H).update(from: pd + (n * T + t) * H, count: H)
                }
            }
        }
        // out = tanh(joined·W_cᵀ + b_c)
        let po = output.data, bc = combineBias.value.data
        for r in 0..<(N * T) { (po + r * H).update(from: bc, count: H) }
        BLAS.gemm(transB: true, m: N * T, n: H, k: 2 * H, pj, combineWeight.value.data, beta: 1, po, parallel: true)
        Vector.tanh(po, po, count: N * T * H)
        return output
    }

    /// dLoss/dout [N, T, H] → accumulates parameter gradients; fills `decoderGradient`
    /// [N, T, H] and `encoderGradient` [N, S, H].
    public func backward(_ dOut: Tensor) {
        guard let d = decoder, let e = encoder else { preconditionFailure("Attention.backward before forward") }
        let N = d.shape[0], T = d.shape[1], H = hidden, S = e.shape[1]
        let po = output.data, pj = joined.data, pd = d.data, pe = e.data, pk = keys.data, pw = weights.data
        // dPre = dOut ⊙ (1 − out²).
        decoderGradient.resize([N, T, H])
        dPre.resize([N * T, H])
        let pp = dPre.data, pg = dOut.data
        for i in 0..<(N * T * H) { pp[i] = pg[i] * (1 - po[i] * po[i]) }
        BLAS.gemm(transA: true, m: H, n: 2 * H, k: N * T, pp, pj, beta: 1, combineWeight.gradient.data, parallel: true)
        let db = combineBias.gradient.data
        for r in 0..<(N * T) { for j in 0..<H { db[j] += pp[r * H + j] } }
        dJoined.resize([N, T, 2 * H])
        let pdj = dJoined.data
        BLAS.gemm(m: N * T, n: 2 * H, k: H, pp, combineWeight.value.data, pdj, parallel: true)
        encoderGradient.resize([N, S, H]); dWeights.resize([N, T, S]); dKeys.resize([N, S, H])
        let pdd = decoderGradient.data, pde = encoderGradient.data, pdw = dWeights.data, pdk = dKeys.data
        Parallel.forEach(N, grain: 1) { range in
            for n in range {
                let w = pw + n * T * S, dw = pdw + n * T * S, len = lengths[n]
                let dCtx = pdj + n * T * 2 * H
                // dDecoder (direct part) = second half of dJoined.
                for t in 0..<T {
                    (pdd + (n * T + t) * H).update(from: dCtx + t * 2 * H + H, count: H)
                }
                // dα = dC·E_nᵀ; dE_n = αᵀ·dC.
                BLAS.gemm(transB: true, m: T, n: S, k: H, dCtx, lda: 2 * H, pe + n * S * H, dw)
                BLAS.gemm(transA: true, m: S, n: H, k: T, w, dCtx, ldb: 2 * H, pde + n * S * H)
                // dScores = α ⊙ (dα − Σ_s α dα); masked steps have α = 0.
                for t in 0..<T {
                    let a = w + t * S, g = dw + t * S
                    var dot: Float = 0
                    for s in 0..<len { dot += a[s] * g[s] }
                    for s in 0..<S { g[s] = s < len ? a[s] * (g[s] - dot) : 0 }
                }
                // dD_n += dScores·K_n; dK_n = dScoresᵀ·D_n.
                BLAS.gemm(m: T, n: H, k: S, dw, pk + n * S * H, beta: 1, pdd + n * T * H)
                BLAS.gemm(transA: true, m: S, n: H, k: T, dw, pd + n * T * H, pdk + n * S * H)
            }
        }
        // keys = E·W_aᵀ: dW_a += dKᵀ·E, dE += dK·W_a.
        BLAS.gemm(transA: true, m: H, n: H, k: N * S, pdk, pe, beta: 1, weight.gradient.data, parallel: true)
        BLAS.gemm(m: N * S, n: H, k: H, pdk, weight.value.data, beta: 1, pde, parallel: true)
    }
}
