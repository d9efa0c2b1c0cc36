// Swift entry points to the C vector kernels (Sources/CKernels): transcendental functions
// over buffers and the LSTM cell, each at the widest instruction set the CPU has.
import CKernels

/// The instruction-set level of Phalanx's own vector kernels.
public enum SIMDLevel: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case generic = 0
    case avx2 = 1
    case avx512 = 2

    /// The level the kernels run at (the CPU's widest, capped by PHALANX_SIMD).
    public static var current: SIMDLevel { SIMDLevel(rawValue: phx_simd_level()) ?? .generic }
    /// The widest level this CPU supports.
    public static var supported: SIMDLevel { SIMDLevel(rawValue: phx_simd_supported()) ?? .generic }

    /// Runs the kernels at `level` (capped at what the CPU supports); returns the level set.
    @discardableResult
    public static func set(_ level: SIMDLevel) -> SIMDLevel {
        SIMDLevel(rawValue: phx_simd_set_level(level.rawValue)) ?? .generic
    }

    public var description: String { String(cString: phx_simd_name(rawValue)) }
}

extension Vector {
    /// y[i] = e^x[i] (≤ 1 ulp; results below 2^-126 flush to 0). x and y may alias.
    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        phx_exp(x, y, count)
    }

    /// out[j] += Σ_r x[r·columns + j], rows added in order (bias gradients).
    public static func sumRows(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        phx_sum_rows(x, rows, columns, out)
    }

    /// (Σx, Σx²) over `count` floats in Double, or (Σx, Σx·y) with `y` — 16 fixed lanes,
    /// the same bits at every instruction-set level.
    public static func moments(_ x: UnsafePointer<Float>, count: Int, times y: UnsafePointer<Float>? = nil) -> (Double, Double) {
        var out: (Double, Double) = (0, 0)
        withUnsafeMutableBytes(of: &out) { phx_moments(x, count, y, $0.baseAddress!.assumingMemoryBound(to: Double.self)) }
        return out
    }

    /// h[i] = (x[i] − mean)·scale (when h is given), y[i] = gain·h[i] + shift.
    public static func normalize(_ x: UnsafePointer<Float>, count: Int, mean: Float, scale: Float, gain: Float, shift: Float,
                                 normalized h: UnsafeMutablePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        phx_normalize(x, count, mean, scale, gain, shift, h, y)
    }

    /// dx[i] = scale·(dy[i] − a − h[i]·c): batch norm's input gradient on one plane.
    public static func normalizeBackward(_ dy: UnsafePointer<Float>, normalized h: UnsafePointer<Float>, count: Int,
                                         scale: Float, a: Float, c: Float, into dx: UnsafeMutablePointer<Float>) {
        phx_normalize_backward(dy, h, count, scale, a, c, dx)
    }

    /// y[i] = tanh x[i] (≤ 1 ulp). x and y may alias.
    public static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        phx_tanh(x, y, count)
    }

    /// y[i] = 1/(1 + e^{−x[i]}) (≤ 2 ulp). x and y may alias.
    public static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        phx_sigmoid(x, y, count)
    }
}

/// The LSTM cell of one time step over independent rows (gate order i, f, g, o).
public enum LSTMCell {
    /// `a` (rows × 4H pre-activations) becomes the gates; writes c, tanh c and h (rows × H).
    /// `cPrev` nil: a zero state; `peephole` (3H) nil: none.
    public static func forward(_ a: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>?,
                                          peephole: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>,
                                          tanhC: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>,
                                          rows: Int, hidden: Int) {
        phx_lstm_forward(a, cPrev, peephole, c, tanhC, h, rows, hidden)
    }

    /// dL/d pre-activations `da` from the forward's gates and dL/dh; `dc` holds dL/dc_t
    /// on entry and dL/dc_{t−1} on return; `dPeephole` accumulates (rows in order).
    public static func backward(gates: UnsafePointer<Float>, cPrev: UnsafePointer<Float>?,
                                           c: UnsafePointer<Float>, tanhC: UnsafePointer<Float>,
                                           dh: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>,
                                           peephole: UnsafePointer<Float>?, dPeephole: UnsafeMutablePointer<Float>?,
                                           da: UnsafeMutablePointer<Float>, rows: Int, hidden: Int) {
        phx_lstm_backward(gates, cPrev, c, tanhC, dh, dc, peephole, dPeephole, da, rows, hidden)
    }
}

/// A matrix packed once for many products `C (+)= A·B` with small A — the recurrent
/// weights of an RNN or LSTM, used at every time step. Packed into panels of 16 columns
/// (`phx_pack_b`); the products run on Phalanx's own register-blocked kernel, split over
/// the cores by panels.
public final class PackedMatrix {
    private var storage = Tensor(shape: [0])
    public private(set) var rows = 0
    public private(set) var columns = 0

    public init() {}

    /// Packs the K × N matrix B: `B[k·ldb + j]`, or `B[j·ldb + k]` when `transposed`.
    public func pack(_ b: UnsafePointer<Float>, ldb: Int, transposed: Bool, rows k: Int, columns n: Int) {
        storage.resize([phx_packed_size(k, n)])
        phx_pack_b(b, ldb, transposed ? 1 : 0, k, n, storage.data)
        rows = k
        columns = n
    }

    /// C (M × N, row stride ldc) = A·B, or += with `accumulate`; A is M × K (row stride lda).
    public func multiply(_ a: UnsafePointer<Float>, lda: Int, m: Int, into c: UnsafeMutablePointer<Float>, ldc: Int,
                         accumulate: Bool, parallel: Bool = true) {
        let panels = (columns + 15) / 16, k = rows, n = columns, packed = storage.data
        // Each task at least ~0.5 MFLOP, so that a hand-off pays.
        let grain = parallel ? max(1, 262_144 / max(1, m * k * 16)) : panels
        Parallel.forEach(panels, grain: grain) { r in
            let j0 = r.lowerBound * 16, width = min(n, r.upperBound * 16) - j0
            phx_gemm_packed(m, width, k, a, lda, packed + r.lowerBound * 16 * k, c + j0, ldc, accumulate ? 1 : 0)
        }
    }
}
