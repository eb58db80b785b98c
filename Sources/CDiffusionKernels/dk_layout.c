#include "dk_layout.h"
#include "dk_conv_half.h"
#include "dk_simd.h"
#include <string.h>

void dk_transpose(const float *src, size_t ld_src, float *dst, size_t ld_dst, size_t rows, size_t cols) {
    const size_t B = 32;
    for (size_t r0 = 0; r0 < rows; r0 += B) {
        size_t r1 = r0 + B < rows ? r0 + B : rows;
        for (size_t c0 = 0; c0 < cols; c0 += B) {
            size_t c1 = c0 + B < cols ? c0 + B : cols;
            for (size_t r = r0; r < r1; r++)
                for (size_t c = c0; c < c1; c++) dst[c * ld_dst + r] = src[r * ld_src + c];
        }
    }
}

void dk_upsample_nearest2x(const float *src, float *dst, size_t planes, size_t h, size_t w) {
    const size_t w2 = 2 * w;
    for (size_t p = 0; p < planes; p++) {
        const float *sp = src + p * h * w;
        float *dp = dst + p * 4 * h * w;
        for (size_t y = 0; y < h; y++) {
            const float *sr = sp + y * w;
            float *dr = dp + 2 * y * w2;
            for (size_t x = 0; x < w; x++) { float v = sr[x]; dr[2 * x] = v; dr[2 * x + 1] = v; }
            memcpy(dr + w2, dr, w2 * sizeof(float));
        }
    }
}

#ifdef DK_X86
DK_AVX2 static void f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
        _mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 8))));
    }
    for (; i < n; i++) dst[i] = dkc_f16_to_float(src[i]);
}

DK_AVX2 static void bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; i++) { uint32_t b = (uint32_t)src[i] << 16; memcpy(dst + i, &b, 4); }
}
#endif

void dk_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
#ifdef DK_X86
    if (dk_use_avx2()) { f16_to_f32_avx2(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = dkc_f16_to_float(src[i]);
}

void dk_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
#ifdef DK_X86
    if (dk_use_avx2()) { bf16_to_f32_avx2(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) { uint32_t b = (uint32_t)src[i] << 16; memcpy(dst + i, &b, 4); }
}
