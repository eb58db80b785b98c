#include "dk_half.h"
#include "dk_conv_half.h"
#include "dk_simd.h"
#include <string.h>

static inline uint16_t float_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, abs = x & 0x7FFFFFFFu;
    if (abs > 0x7F800000u) return (uint16_t)(sign | 0x7E00 | ((abs >> 13) & 0x3FF));  // NaN, quiet
    if (abs >= 0x477FF000u) return (uint16_t)(sign | 0x7C00);                          // rounds past the largest half
    if (abs < 0x38800000u) {                                                            // subnormal half or zero
        if (abs < 0x33000000u) return (uint16_t)sign;                                   // at most half the smallest subnormal
        uint32_t e = abs >> 23, m = (abs & 0x7FFFFF) | 0x800000, shift = 126 - e;
        uint32_t h = m >> shift, rest = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t r = abs + 0xC8000FFFu + ((abs >> 13) & 1);  // rebias (−112 << 23) and round to nearest even
    return (uint16_t)(sign | (r >> 13));
}

static inline uint16_t float_to_bf16(float f) {
    if (f != f) return 0x7FC0;
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1)) >> 16);
}

static void f32_to_f16_portable(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = float_to_f16(src[i]);
}

static void f32_to_bf16_portable(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = float_to_bf16(src[i]);
}

static void add_rounded_portable(const uint16_t *base, const float *delta, uint16_t *dst, size_t n, int bf16) {
    if (bf16) {
        for (size_t i = 0; i < n; i++) dst[i] = float_to_bf16(dkc_bf16_to_float(base[i]) + dkc_bf16_to_float(float_to_bf16(delta[i])));
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = float_to_f16(dkc_f16_to_float(base[i]) + dkc_f16_to_float(float_to_f16(delta[i])));
    }
}

#ifdef DK_X86
#define DK_ROUND_F16 (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/// Eight floats to bfloat16, round to nearest even, NaN → 0x7FC0 (in the low 16 bits of each 32-bit lane).
DK_AVX2 static inline __m256i bf16_round8(__m256 x) {
    __m256i u = _mm256_castps_si256(x);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb), 16);
    __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    return _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7FC0), nan);
}

/// The low 16 bits of sixteen 32-bit lanes (each below 0x10000), in order.
DK_AVX2 static inline __m256i pack16(__m256i lo, __m256i hi) {
    return _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
}

DK_AVX2 static inline __m256 bf16_widen8(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

DK_AVX2 static void f32_to_f16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), DK_ROUND_F16));
    for (; i < n; i++) dst[i] = float_to_f16(src[i]);
}

DK_AVX2 static void f32_to_bf16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i p = pack16(bf16_round8(_mm256_loadu_ps(src + i)), bf16_round8(_mm256_loadu_ps(src + i + 8)));
        _mm256_storeu_si256((__m256i *)(dst + i), p);
    }
    for (; i < n; i++) dst[i] = float_to_bf16(src[i]);
}

DK_AVX2 static void add_rounded_avx2(const uint16_t *base, const float *delta, uint16_t *dst, size_t n, int bf16) {
    size_t i = 0;
    if (bf16) {
        for (; i + 16 <= n; i += 16) {
            __m256i r[2];
            for (int h = 0; h < 2; h++) {
                __m256i d16 = bf16_round8(_mm256_loadu_ps(delta + i + 8 * h));
                __m256 d = _mm256_castsi256_ps(_mm256_slli_epi32(d16, 16));
                __m256 w = bf16_widen8(_mm_loadu_si128((const __m128i *)(base + i + 8 * h)));
                r[h] = bf16_round8(_mm256_add_ps(w, d));
            }
            _mm256_storeu_si256((__m256i *)(dst + i), pack16(r[0], r[1]));
        }
    } else {
        for (; i + 8 <= n; i += 8) {
            __m256 d = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(delta + i), DK_ROUND_F16));
            __m256 w = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(base + i)));
            _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_add_ps(w, d), DK_ROUND_F16));
        }
    }
    add_rounded_portable(base + i, delta + i, dst + i, n - i, bf16);
}
#endif

void dk_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
#ifdef DK_X86
    if (dk_use_avx2()) { f32_to_f16_avx2(src, dst, n); return; }
#endif
    f32_to_f16_portable(src, dst, n);
}

void dk_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
#ifdef DK_X86
    if (dk_use_avx2()) { f32_to_bf16_avx2(src, dst, n); return; }
#endif
    f32_to_bf16_portable(src, dst, n);
}

void dk_half_add_rounded(const uint16_t *base, const float *delta, uint16_t *dst, size_t n, int bf16) {
#ifdef DK_X86
    if (dk_use_avx2()) { add_rounded_avx2(base, delta, dst, n, bf16); return; }
#endif
    add_rounded_portable(base, delta, dst, n, bf16);
}
