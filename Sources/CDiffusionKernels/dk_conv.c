#include "dk_conv.h"
#include "dk_conv_dispatch.h"
#include "dk_conv_half.h"
#include <string.h>
#if DK_HAS_WIDE
#include <immintrin.h>
#endif

// MARK: widening

DK_INLINE void widen_body(const void *src, int dtype, size_t count, float *dst) {
    if (dtype == DK_CONV_WEIGHT_F32) {
        memcpy(dst, src, count * sizeof(float));
        return;
    }
    const uint16_t *s = (const uint16_t *)src;
    if (dtype == DK_CONV_WEIGHT_BF16) {
        for (size_t i = 0; i < count; i++) {
            uint32_t bits = (uint32_t)s[i] << 16;
            memcpy(dst + i, &bits, 4);
        }
        return;
    }
    for (size_t i = 0; i < count; i++) dst[i] = dkc_f16_to_float(s[i]);
}

static void widen_portable(const void *src, int dtype, size_t count, float *dst) {
    widen_body(src, dtype, count, dst);
}

#if DK_HAS_WIDE
DK_TARGET_AVX2 static void widen_avx2(const void *src, int dtype, size_t count, float *dst) {
    if (dtype != DK_CONV_WEIGHT_F16) {
        widen_body(src, dtype, count, dst);
        return;
    }
    const uint16_t *s = (const uint16_t *)src;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(s + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < count; i++) dst[i] = dkc_f16_to_float(s[i]);
}
#endif

void dk_conv_widen(const void *src, int dtype, size_t count, float *dst) {
#if DK_HAS_WIDE
    if (dk_cpu_level() >= 1) {
        widen_avx2(src, dtype, count, dst);
        return;
    }
#endif
    widen_portable(src, dtype, count, dst);
}

// MARK: im2col

DK_INLINE void im2col_body(const float *x, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl,
                           int wout, int oy0, int oh, int c0, int cn, float *col, size_t ldcol) {
    for (int c = c0; c < c0 + cn; c++) {
        const float *img = x + (size_t)c * h * w;
        for (int i = 0; i < kh; i++) {
            for (int j = 0; j < kw; j++) {
                float *row = col + ((size_t)((c - c0) * kh + i) * kw + j) * ldcol;
                // Output columns whose input column ox·sw − pl + j lies inside [0, w).
                int xoff = j - pl;
                int ox_lo = xoff >= 0 ? 0 : (-xoff + sw - 1) / sw;
                int ox_hi = (w - 1 - xoff) < 0 ? 0 : (w - 1 - xoff) / sw + 1; /* exclusive */
                if (ox_hi > wout) ox_hi = wout;
                if (ox_lo > ox_hi) ox_lo = ox_hi;
                for (int oy = oy0; oy < oy0 + oh; oy++) {
                    float *dst = row + (size_t)(oy - oy0) * wout;
                    int y = oy * sh - pt + i;
                    if (y < 0 || y >= h) {
                        memset(dst, 0, sizeof(float) * (size_t)wout);
                        continue;
                    }
                    // Only columns inside the row are addressed: no pointer is formed before it.
                    const float *src = img + (size_t)y * w;
                    for (int ox = 0; ox < ox_lo; ox++) dst[ox] = 0;
                    if (sw == 1) {
                        if (ox_hi > ox_lo)
                            memcpy(dst + ox_lo, src + (ox_lo + xoff), sizeof(float) * (size_t)(ox_hi - ox_lo));
                    } else {
                        for (int ox = ox_lo; ox < ox_hi; ox++) dst[ox] = src[(size_t)ox * sw + xoff];
                    }
                    for (int ox = ox_hi; ox < wout; ox++) dst[ox] = 0;
                }
            }
        }
    }
}

static void im2col_portable(const float *x, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl,
                            int wout, int oy0, int oh, int c0, int cn, float *col, size_t ldcol) {
    im2col_body(x, h, w, kh, kw, sh, sw, pt, pl, wout, oy0, oh, c0, cn, col, ldcol);
}

#if DK_HAS_WIDE
DK_TARGET_AVX2 static void im2col_avx2(const float *x, int h, int w, int kh, int kw, int sh, int sw, int pt,
                                       int pl, int wout, int oy0, int oh, int c0, int cn, float *col,
                                       size_t ldcol) {
    im2col_body(x, h, w, kh, kw, sh, sw, pt, pl, wout, oy0, oh, c0, cn, col, ldcol);
}
#endif

void dk_conv_im2col(const float *x, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl,
                    int wout, int oy0, int oh, int c0, int cn, float *col, size_t ldcol) {
#if DK_HAS_WIDE
    if (dk_cpu_level() >= 1) {
        im2col_avx2(x, h, w, kh, kw, sh, sw, pt, pl, wout, oy0, oh, c0, cn, col, ldcol);
        return;
    }
#endif
    im2col_portable(x, h, w, kh, kw, sh, sw, pt, pl, wout, oy0, oh, c0, cn, col, ldcol);
}

// MARK: bias

void dk_conv_fill_bias(float *y, const float *bias, int channels, size_t plane) {
    for (int c = 0; c < channels; c++) {
        float b = bias ? bias[c] : 0.0f;
        float *p = y + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) p[i] = b;
    }
}
