// Phalanx's own vector kernels, in C so that each can be compiled for several instruction
// sets in one binary (per-function target attributes) and the widest one the CPU has is
// chosen at run time: AVX-512 (16 lanes), AVX2 + FMA (8 lanes), or a generic 4-lane
// version for anything else. Every version performs the same IEEE operations on each
// element (fused multiply-adds written out, no contraction left to the compiler), so the
// results are bit-identical whichever runs — a cluster of mixed CPUs computes the same
// numbers.
#ifndef PHALANX_KERNELS_H
#define PHALANX_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set levels: 0 generic (4 lanes), 1 AVX2 + FMA (8), 2 AVX-512F (16).
enum { PHX_SIMD_GENERIC = 0, PHX_SIMD_AVX2 = 1, PHX_SIMD_AVX512 = 2 };

/// The level the kernels run at: the widest the CPU supports, capped by the environment
/// variable PHALANX_SIMD (`generic`, `avx2`, `avx512`) when it is set.
int phx_simd_level(void);
/// The widest level this CPU supports.
int phx_simd_supported(void);
/// Runs the kernels at `level` (capped at what the CPU supports); returns the level set.
int phx_simd_set_level(int level);
/// "avx512", "avx2" or "generic".
const char *phx_simd_name(int level);

/// y[i] = e^x[i]. At most 1 ulp from the correctly rounded value for results ≥ 2^-126
/// (x ≥ −87.33); smaller results are flushed to 0; x > 88.72 gives +inf; NaN stays NaN.
/// x and y may be the same buffer.
void phx_exp(const float *x, float *y, size_t n);
/// y[i] = tanh x[i] (a polynomial below |x| = 0.55, 1 − 2/(e^{2|x|} + 1) above).
void phx_tanh(const float *x, float *y, size_t n);
/// y[i] = 1/(1 + e^{−x[i]}).
void phx_sigmoid(const float *x, float *y, size_t n);

/// One LSTM step's cell for `rows` independent rows (PyTorch's gate order i, f, g, o).
/// `a`: rows × 4H pre-activations (input and recurrent projections and biases), replaced
/// by the gates after their nonlinearity. `c_prev`: rows × H or NULL (zeros). `peep`: 3H
/// peephole weights (into i and f from c_{t−1}, into o from c_t) or NULL. Writes c, tanh c
/// and h (rows × H each).
void phx_lstm_forward(float *a, const float *c_prev, const float *peep,
                      float *c, float *tanh_c, float *h, size_t rows, size_t hidden);

/// The backward step of `phx_lstm_forward` for `rows` rows. `gates`: the forward's rows ×
/// 4H gates; `dh`: dL/dh_t (rows × H); `dc`: dL/dc_t arriving from step t + 1 on entry,
/// replaced by dL/dc_{t−1}. Writes `da` (rows × 4H, dL/d pre-activation). With `peep`,
/// `dpeep` (3H) accumulates the peepholes' gradient, row after row in order.
void phx_lstm_backward(const float *gates, const float *c_prev, const float *c, const float *tanh_c,
                       const float *dh, float *dc, const float *peep, float *dpeep, float *da,
                       size_t rows, size_t hidden);

/// out[j] += Σ_r x[r·cols + j] over `rows` rows of `cols` floats, rows added in order
/// (bias gradients).
void phx_sum_rows(const float *x, size_t rows, size_t cols, float *out);

/// out[0] = Σ x[i], out[1] = Σ x[i]² (or Σ x[i]·y[i] when y is not NULL), in Double:
/// element i goes to lane i mod 16, the lanes are summed in a fixed tree (the same bits
/// at every width).
void phx_moments(const float *x, size_t n, const float *y, double *out);
/// h[i] = (x[i] − mu)·s (h may be NULL), y[i] = g·h[i] + b.
void phx_normalize(const float *x, size_t n, float mu, float s, float g, float b, float *h, float *y);
/// dx[i] = scale·(dy[i] − a − h[i]·c).
void phx_normalize_backward(const float *dy, const float *h, size_t n, float scale, float a, float c, float *dx);

/// 12 independent chains of `iterations` fused multiply-adds at the current level:
/// 24·lanes·iterations flops, for the FMA peak of one core (`phalanx bench kernels`).
float phx_fma_peak(size_t iterations);
/// Float lanes of the current level (16, 8 or 4).
size_t phx_simd_lanes(void);

/// Packs B for phx_gemm_packed: the logical K × N matrix B (B[k][j] = `B[k·ldb + j]`, or
/// `B[j·ldb + k]` when `transposed`) into panels of 16 columns, K × 16 floats each,
/// zero-padded: phx_packed_size(K, N) floats.
void phx_pack_b(const float *B, size_t ldb, int transposed, size_t K, size_t N, float *packed);
size_t phx_packed_size(size_t K, size_t N);

/// C = A·B (`accumulate` 0) or C += A·B, A M × K (row stride lda), B packed by
/// phx_pack_b, C M × N (row stride ldc). For the small, repeated products of recurrent
/// steps, where B (the recurrent weights) is packed once for many products. Columns
/// [16p, 16p + 16) of C need only panel p: pass `packed + p·16·K` and C + 16p to compute
/// a column range (how callers split the work over threads).
void phx_gemm_packed(size_t M, size_t N, size_t K, const float *A, size_t lda,
                     const float *packed, float *C, size_t ldc, int accumulate);

#ifdef __cplusplus
}
#endif

#endif
