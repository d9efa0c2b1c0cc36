// Run-time choice among the instruction-set versions of the kernels in simd_body.h.
#include "phalanx_kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

typedef float vf4 __attribute__((ext_vector_type(4)));
typedef int32_t vi4 __attribute__((ext_vector_type(4)));
typedef float vf8 __attribute__((ext_vector_type(8)));
typedef int32_t vi8 __attribute__((ext_vector_type(8)));
typedef float vf16 __attribute__((ext_vector_type(16)));
typedef int32_t vi16 __attribute__((ext_vector_type(16)));

#define W 4
#define VF vf4
#define VI vi4
#define TARGET_ATTR
#define SUFFIX _generic
#define MR 2
#include "simd_body.h"
#undef W
#undef VF
#undef VI
#undef TARGET_ATTR
#undef SUFFIX
#undef MR

#if defined(__x86_64__)
#define PHX_X86 1

#define W 8
#define VF vf8
#define VI vi8
#define TARGET_ATTR __attribute__((target("avx2,fma")))
#define SUFFIX _avx2
#define MR 6
#include "simd_body.h"
#undef W
#undef VF
#undef VI
#undef TARGET_ATTR
#undef SUFFIX
#undef MR

#define W 16
#define VF vf16
#define VI vi16
#define TARGET_ATTR __attribute__((target("avx512f,avx2,fma")))
#define SUFFIX _avx512
#define MR 16
#include "simd_body.h"
#undef W
#undef VF
#undef VI
#undef TARGET_ATTR
#undef SUFFIX
#undef MR
#endif

int phx_simd_supported(void) {
#ifdef PHX_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return PHX_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return PHX_SIMD_AVX2;
#endif
    return PHX_SIMD_GENERIC;
}

static int current = -1;

int phx_simd_set_level(int level) {
    int top = phx_simd_supported();
    if (level > top) level = top;
    if (level < 0) level = 0;
    __atomic_store_n(&current, level, __ATOMIC_RELAXED);
    return level;
}

int phx_simd_level(void) {
    int level = __atomic_load_n(&current, __ATOMIC_RELAXED);
    if (level >= 0) return level;
    level = phx_simd_supported();
    const char *cap = getenv("PHALANX_SIMD");
    if (cap) {
        if (strcmp(cap, "generic") == 0) level = PHX_SIMD_GENERIC;
        else if (strcmp(cap, "avx2") == 0 && level > PHX_SIMD_AVX2) level = PHX_SIMD_AVX2;
    }
    return phx_simd_set_level(level);
}

const char *phx_simd_name(int level) {
    switch (level) {
    case PHX_SIMD_AVX512: return "avx512";
    case PHX_SIMD_AVX2: return "avx2";
    default: return "generic";
    }
}

#ifdef PHX_X86
#define DISPATCH(name, ...)                                                   \
    switch (phx_simd_level()) {                                               \
    case PHX_SIMD_AVX512: CAT(name, _avx512)(__VA_ARGS__); return;            \
    case PHX_SIMD_AVX2: CAT(name, _avx2)(__VA_ARGS__); return;                \
    default: CAT(name, _generic)(__VA_ARGS__); return;                        \
    }
#else
#define DISPATCH(name, ...) CAT(name, _generic)(__VA_ARGS__)
#endif

void phx_exp(const float *x, float *y, size_t n) { DISPATCH(exp_array, x, y, n) }
void phx_tanh(const float *x, float *y, size_t n) { DISPATCH(tanh_array, x, y, n) }
void phx_sigmoid(const float *x, float *y, size_t n) { DISPATCH(sigmoid_array, x, y, n) }

void phx_lstm_forward(float *a, const float *c_prev, const float *peep,
                      float *c, float *tanh_c, float *h, size_t rows, size_t hidden) {
    DISPATCH(lstm_forward, a, c_prev, peep, c, tanh_c, h, rows, hidden)
}

void phx_lstm_backward(const float *gates, const float *c_prev, const float *c, const float *tanh_c,
                       const float *dh, float *dc, const float *peep, float *dpeep, float *da,
                       size_t rows, size_t hidden) {
    DISPATCH(lstm_backward, gates, c_prev, c, tanh_c, dh, dc, peep, dpeep, da, rows, hidden)
}

void phx_pack_b(const float *B, size_t ldb, int transposed, size_t K, size_t N, float *packed) {
    for (size_t j0 = 0; j0 < N; j0 += 16) {
        float *panel = packed + (j0 / 16) * K * 16;
        for (size_t k = 0; k < K; k++)
            for (size_t c = 0; c < 16; c++) {
                size_t j = j0 + c;
                panel[k * 16 + c] = j >= N ? 0.0f : transposed ? B[j * ldb + k] : B[k * ldb + j];
            }
    }
}

size_t phx_packed_size(size_t K, size_t N) { return K * ((N + 15) / 16) * 16; }

void phx_gemm_packed(size_t M, size_t N, size_t K, const float *A, size_t lda,
                     const float *packed, float *C, size_t ldc, int accumulate) {
    DISPATCH(gemm_packed, M, N, K, A, lda, packed, C, ldc, accumulate)
}

void phx_sum_rows(const float *x, size_t rows, size_t cols, float *out) { DISPATCH(sum_rows, x, rows, cols, out) }

void phx_moments(const float *x, size_t n, const float *y, double *out) { DISPATCH(moments, x, n, y, out) }
void phx_normalize(const float *x, size_t n, float mu, float s, float g, float b, float *h, float *y) {
    DISPATCH(normalize, x, n, mu, s, g, b, h, y)
}
void phx_normalize_backward(const float *dy, const float *h, size_t n, float scale, float a, float c, float *dx) {
    DISPATCH(normalize_backward, dy, h, n, scale, a, c, dx)
}

float phx_fma_peak(size_t iterations) {
#ifdef PHX_X86
    switch (phx_simd_level()) {
    case PHX_SIMD_AVX512: return fma_peak_avx512(iterations);
    case PHX_SIMD_AVX2: return fma_peak_avx2(iterations);
    default: return fma_peak_generic(iterations);
    }
#else
    return fma_peak_generic(iterations);
#endif
}

size_t phx_simd_lanes(void) {
    switch (phx_simd_level()) {
    case PHX_SIMD_AVX512: return 16;
    case PHX_SIMD_AVX2: return 8;
    default: return 4;
    }
}
