// PyTorch-compatible random kernels (see dk_random.h).
//
// Bit-exactness notes. torch's AVX2 kernel is compiled by GCC with -mavx2 -mfma and GCC's default
// -ffp-contract=fast, so every multiply whose only use is an add or subtract becomes a fused multiply-add.
// Both paths below spell those fusions out (fmaf / _mm256_fmadd_ps) and forbid any other contraction, so the
// portable path and the AVX2 path give the same bits as torch on any processor. The constants are written
// as double literals converted to float, as the original tables are.
#include "dk_random.h"
#include "dk_cpu.h"

#include <math.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DK_RANDOM_X86 1
#endif

// MARK: - mt19937

void dk_mt19937_seed(uint32_t *state, uint32_t seed) {
    state[0] = seed;
    for (uint32_t j = 1; j < DK_MT19937_N; j++) {
        uint32_t prev = state[j - 1];
        state[j] = 1812433253u * (prev ^ (prev >> 30)) + j;
    }
}

static inline uint32_t dk_mt19937_twist(uint32_t a, uint32_t b, uint32_t c) {
    const uint32_t y = (a & 0x80000000u) | (b & 0x7fffffffu);
    return c ^ (y >> 1) ^ ((uint32_t)(-(int32_t)(y & 1u)) & 0x9908b0dfu);
}

static void dk_mt19937_regenerate(uint32_t *s) {
    const int n = DK_MT19937_N, m = 397;
    int k = 0;
    for (; k < n - m; k++) s[k] = dk_mt19937_twist(s[k], s[k + 1], s[k + m]);
    for (; k < n - 1; k++) s[k] = dk_mt19937_twist(s[k], s[k + 1], s[k + m - n]);
    s[n - 1] = dk_mt19937_twist(s[n - 1], s[0], s[m - 1]);
}

static inline uint32_t dk_mt19937_temper(uint32_t y) {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

void dk_mt19937_next(uint32_t *state, int32_t *index, uint32_t *out, size_t count) {
    int32_t i = *index;
    for (size_t n = 0; n < count; n++) {
        if (i >= DK_MT19937_N) {
            dk_mt19937_regenerate(state);
            i = 0;
        }
        out[n] = dk_mt19937_temper(state[i++]);
    }
    *index = i;
}

void dk_mt19937_uniform_float(uint32_t *state, int32_t *index, float *out, size_t count) {
    const float scale = 1.0f / 16777216.0f;
    int32_t i = *index;
    size_t n = 0;
    while (n < count) {
        if (i >= DK_MT19937_N) {
            dk_mt19937_regenerate(state);
            i = 0;
        }
        size_t run = (size_t)(DK_MT19937_N - i);
        if (run > count - n) run = count - n;
        const uint32_t *src = state + i;
        float *dst = out + n;
        for (size_t k = 0; k < run; k++) dst[k] = (float)(dk_mt19937_temper(src[k]) & 0xffffffu) * scale;
        i += (int32_t)run;
        n += run;
    }
    *index = i;
}

// MARK: - Constants of the Cephes-style polynomials (float tables built from double literals)

#define DK_C(x) ((float)(x))
static const double dk_sqrthf = 0.707106781186547524;
static const double dk_log_p[9] = {
    7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
    -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1,
};
static const double dk_log_q1 = -2.12194440e-4;
static const double dk_log_q2 = 0.693359375;
static const double dk_minus_dp1 = -0.78515625;
static const double dk_minus_dp2 = -2.4187564849853515625e-4;
static const double dk_minus_dp3 = -3.77489497744594108e-8;
static const double dk_sincof[3] = {-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1};
static const double dk_coscof[3] = {2.443315711809948E-005, -1.388731625493765E-003, 4.166664568298827E-002};
static const double dk_four_over_pi = 1.27323954473516;
static const double dk_pi = 3.14159265358979323846;

// MARK: - Portable path of the AVX2 kernel (one lane at a time, same operations)

static inline uint32_t dk_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float dk_float(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

static float dk_cephes_logf(float x) {
    const uint32_t invalid = (x <= 0.0f) ? 0xffffffffu : 0u;
    const float min_norm = dk_float(0x00800000u);
    x = (x > min_norm) ? x : min_norm;
    int32_t exponent = (int32_t)(dk_bits(x) >> 23);
    x = dk_float((dk_bits(x) & ~0x7f800000u) | dk_bits(0.5f));
    exponent -= 0x7f;
    float e = (float)exponent;
    e = e + 1.0f;
    const int below = x < DK_C(dk_sqrthf);
    const float tmp = below ? x : 0.0f;
    x = x - 1.0f;
    e = e - (below ? 1.0f : 0.0f);
    x = x + tmp;
    const float z = x * x;
    float y = DK_C(dk_log_p[0]);
    for (int k = 1; k < 9; k++) y = fmaf(y, x, DK_C(dk_log_p[k]));
    y = y * x;
    y = fmaf(y, z, e * DK_C(dk_log_q1));
    y = fmaf(-z, 0.5f, y);
    x = x + y;
    x = fmaf(e, DK_C(dk_log_q2), x);
    return dk_float(dk_bits(x) | invalid);
}

static void dk_cephes_sincosf(float x, float *s, float *c) {
    uint32_t sign_sin = dk_bits(x) & 0x80000000u;
    x = dk_float(dk_bits(x) & 0x7fffffffu);
    float y = x * DK_C(dk_four_over_pi);
    int32_t j = (int32_t)y;
    j = (j + 1) & ~1;
    y = (float)j;
    const uint32_t swap_sin = (uint32_t)(j & 4) << 29;
    const int first_poly = (j & 2) == 0;
    x = fmaf(y, DK_C(dk_minus_dp1), x);
    x = fmaf(y, DK_C(dk_minus_dp2), x);
    x = fmaf(y, DK_C(dk_minus_dp3), x);
    const uint32_t sign_cos = (uint32_t)(~(j - 2) & 4) << 29;
    sign_sin ^= swap_sin;

    const float z = x * x;
    float yc = DK_C(dk_coscof[0]);
    yc = fmaf(yc, z, DK_C(dk_coscof[1]));
    yc = fmaf(yc, z, DK_C(dk_coscof[2]));
    yc = yc * z;
    yc = fmaf(yc, z, -(z * 0.5f));
    yc = yc + 1.0f;

    float ys = DK_C(dk_sincof[0]);
    ys = fmaf(ys, z, DK_C(dk_sincof[1]));
    ys = fmaf(ys, z, DK_C(dk_sincof[2]));
    ys = ys * z;
    ys = fmaf(ys, x, x);

    // Select as the vector code does: masked parts are +0, then recombined with a subtract and an add.
    const float sin_from_s = first_poly ? ys : 0.0f;
    const float sin_from_c = first_poly ? 0.0f : yc;
    const float rest_s = ys - sin_from_s;
    const float rest_c = yc - sin_from_c;
    *s = dk_float(dk_bits(sin_from_c + sin_from_s) ^ sign_sin);
    *c = dk_float(dk_bits(rest_c + rest_s) ^ sign_cos);
}

static void dk_box_muller16_avx2_portable(float *data, size_t blocks) {
    const float two_pi = DK_C(2.0 * dk_pi);
    for (size_t b = 0; b < blocks; b++, data += 16) {
        for (int j = 0; j < 8; j++) {
            const float u1 = 1.0f - data[j];
            const float u2 = data[j + 8];
            const float radius = sqrtf(-2.0f * dk_cephes_logf(u1));
            const float theta = two_pi * u2;
            float s, c;
            dk_cephes_sincosf(theta, &s, &c);
            data[j] = fmaf(radius * c, 1.0f, 0.0f);
            data[j + 8] = fmaf(radius * s, 1.0f, 0.0f);
        }
    }
}

// MARK: - AVX2 path

#ifdef DK_RANDOM_X86
__attribute__((target("avx2,fma")))
static inline __m256 dk_cephes_log8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 invalid = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LE_OS);
    x = _mm256_max_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x00800000)));
    __m256i exponent = _mm256_srli_epi32(_mm256_castps_si256(x), 23);
    x = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(~0x7f800000)));
    x = _mm256_or_ps(x, _mm256_set1_ps(0.5f));
    exponent = _mm256_sub_epi32(exponent, _mm256_set1_epi32(0x7f));
    __m256 e = _mm256_add_ps(_mm256_cvtepi32_ps(exponent), one);
    const __m256 below = _mm256_cmp_ps(x, _mm256_set1_ps(DK_C(dk_sqrthf)), _CMP_LT_OS);
    const __m256 tmp = _mm256_and_ps(x, below);
    x = _mm256_sub_ps(x, one);
    e = _mm256_sub_ps(e, _mm256_and_ps(one, below));
    x = _mm256_add_ps(x, tmp);
    const __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(DK_C(dk_log_p[0]));
    for (int k = 1; k < 9; k++) y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(DK_C(dk_log_p[k])));
    y = _mm256_mul_ps(y, x);
    y = _mm256_fmadd_ps(y, z, _mm256_mul_ps(e, _mm256_set1_ps(DK_C(dk_log_q1))));
    y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
    x = _mm256_add_ps(x, y);
    x = _mm256_fmadd_ps(e, _mm256_set1_ps(DK_C(dk_log_q2)), x);
    return _mm256_or_ps(x, invalid);
}

__attribute__((target("avx2,fma")))
static inline void dk_cephes_sincos8(__m256 x, __m256 *s, __m256 *c) {
    const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    __m256 sign_sin = _mm256_and_ps(x, sign_mask);
    x = _mm256_andnot_ps(sign_mask, x);
    __m256 y = _mm256_mul_ps(x, _mm256_set1_ps(DK_C(dk_four_over_pi)));
    __m256i j = _mm256_cvttps_epi32(y);
    j = _mm256_add_epi32(j, _mm256_set1_epi32(1));
    j = _mm256_and_si256(j, _mm256_set1_epi32(~1));
    y = _mm256_cvtepi32_ps(j);
    const __m256i swap_sin = _mm256_slli_epi32(_mm256_and_si256(j, _mm256_set1_epi32(4)), 29);
    const __m256 first_poly = _mm256_castsi256_ps(
        _mm256_cmpeq_epi32(_mm256_and_si256(j, _mm256_set1_epi32(2)), _mm256_setzero_si256()));
    x = _mm256_fmadd_ps(y, _mm256_set1_ps(DK_C(dk_minus_dp1)), x);
    x = _mm256_fmadd_ps(y, _mm256_set1_ps(DK_C(dk_minus_dp2)), x);
    x = _mm256_fmadd_ps(y, _mm256_set1_ps(DK_C(dk_minus_dp3)), x);
    const __m256i jc = _mm256_sub_epi32(j, _mm256_set1_epi32(2));
    const __m256 sign_cos = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_andnot_si256(jc, _mm256_set1_epi32(4)), 29));
    sign_sin = _mm256_xor_ps(sign_sin, _mm256_castsi256_ps(swap_sin));

    const __m256 z = _mm256_mul_ps(x, x);
    __m256 yc = _mm256_set1_ps(DK_C(dk_coscof[0]));
    yc = _mm256_fmadd_ps(yc, z, _mm256_set1_ps(DK_C(dk_coscof[1])));
    yc = _mm256_fmadd_ps(yc, z, _mm256_set1_ps(DK_C(dk_coscof[2])));
    yc = _mm256_mul_ps(yc, z);
    yc = _mm256_fmsub_ps(yc, z, _mm256_mul_ps(z, _mm256_set1_ps(0.5f)));
    yc = _mm256_add_ps(yc, _mm256_set1_ps(1.0f));

    __m256 ys = _mm256_set1_ps(DK_C(dk_sincof[0]));
    ys = _mm256_fmadd_ps(ys, z, _mm256_set1_ps(DK_C(dk_sincof[1])));
    ys = _mm256_fmadd_ps(ys, z, _mm256_set1_ps(DK_C(dk_sincof[2])));
    ys = _mm256_mul_ps(ys, z);
    ys = _mm256_fmadd_ps(ys, x, x);

    const __m256 sin_from_s = _mm256_and_ps(first_poly, ys);
    const __m256 sin_from_c = _mm256_andnot_ps(first_poly, yc);
    const __m256 rest_s = _mm256_sub_ps(ys, sin_from_s);
    const __m256 rest_c = _mm256_sub_ps(yc, sin_from_c);
    *s = _mm256_xor_ps(_mm256_add_ps(sin_from_c, sin_from_s), sign_sin);
    *c = _mm256_xor_ps(_mm256_add_ps(rest_c, rest_s), sign_cos);
}

__attribute__((target("avx2,fma")))
static void dk_box_muller16_avx2_x86(float *data, size_t blocks) {
    const __m256 two_pi = _mm256_set1_ps(DK_C(2.0 * dk_pi));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 minus_two = _mm256_set1_ps(-2.0f);
    const __m256 zero = _mm256_setzero_ps();
    for (size_t b = 0; b < blocks; b++, data += 16) {
        const __m256 u1 = _mm256_sub_ps(one, _mm256_loadu_ps(data));
        const __m256 u2 = _mm256_loadu_ps(data + 8);
        const __m256 radius = _mm256_sqrt_ps(_mm256_mul_ps(minus_two, dk_cephes_log8(u1)));
        const __m256 theta = _mm256_mul_ps(two_pi, u2);
        __m256 s, c;
        dk_cephes_sincos8(theta, &s, &c);
        _mm256_storeu_ps(data, _mm256_fmadd_ps(_mm256_mul_ps(radius, c), one, zero));
        _mm256_storeu_ps(data + 8, _mm256_fmadd_ps(_mm256_mul_ps(radius, s), one, zero));
    }
}
#endif

void dk_torch_box_muller16_avx2(float *data, size_t blocks) {
    dk_torch_box_muller16_avx2_at_level(data, blocks, dk_cpu_level());
}

void dk_torch_box_muller16_avx2_at_level(float *data, size_t blocks, int level) {
#ifdef DK_RANDOM_X86
    if (level >= 1 && dk_cpu_best_level() >= 1) {
        dk_box_muller16_avx2_x86(data, blocks);
        return;
    }
#endif
    dk_box_muller16_avx2_portable(data, blocks);
}

// MARK: - torch's portable kernel (C library transcendental functions)

void dk_torch_box_muller16_scalar(float *data, size_t blocks) {
    for (size_t b = 0; b < blocks; b++, data += 16) {
        for (int j = 0; j < 8; j++) {
            const float u1 = 1.0f - data[j];
            const float u2 = data[j + 8];
            const float radius = sqrtf(-2.0f * logf(u1));
            const float theta = (float)(2.0 * dk_pi * (double)u2);
            data[j] = radius * cosf(theta) * 1.0f + 0.0f;
            data[j + 8] = radius * sinf(theta) * 1.0f + 0.0f;
        }
    }
}
