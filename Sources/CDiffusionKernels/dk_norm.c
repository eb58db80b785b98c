#include "dk_norm.h"
#include "dk_simd.h"

static void moments_portable(const float *x, size_t n, float *mean, float *variance) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += x[i + l];
    float s = 0;
    for (int l = 0; l < 8; l++) s += acc[l];
    for (; i < n; i++) s += x[i];
    float m = s / (float)n;
    float q[8] = {0};
    i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) { float d = x[i + l] - m; q[l] += d * d; }
    float v = 0;
    for (int l = 0; l < 8; l++) v += q[l];
    for (; i < n; i++) { float d = x[i] - m; v += d * d; }
    *mean = m;
    *variance = v / (float)n;
}

#ifdef DK_X86
DK_AVX2 static void moments_avx2(const float *x, size_t n, float *mean, float *variance) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    float s = dk_hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += x[i];
    float m = s / (float)n;
    __m256 vm = _mm256_set1_ps(m);
    a0 = _mm256_setzero_ps(); a1 = a0; a2 = a0; a3 = a0;
    i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm);
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 16), vm), d3 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 24), vm);
        a0 = _mm256_fmadd_ps(d0, d0, a0); a1 = _mm256_fmadd_ps(d1, d1, a1);
        a2 = _mm256_fmadd_ps(d2, d2, a2); a3 = _mm256_fmadd_ps(d3, d3, a3);
    }
    for (; i + 8 <= n; i += 8) { __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm); a0 = _mm256_fmadd_ps(d, d, a0); }
    float v = dk_hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) { float d = x[i] - m; v += d * d; }
    *mean = m;
    *variance = v / (float)n;
}
#endif

void dk_moments(const float *x, size_t n, float *mean, float *variance) {
    if (n == 0) { *mean = 0; *variance = 0; return; }
#ifdef DK_X86
    if (dk_use_avx2()) { moments_avx2(x, n, mean, variance); return; }
#endif
    moments_portable(x, n, mean, variance);
}

#ifdef DK_X86
/* y = silu(x·scale + shift): the GroupNorm+SiLU epilogue of every UNet and VAE resnet, with the division-free
   sigmoid (the general activation kernel's exact division and edge handling cost more than the memory pass). */
DK_AVX2 static void affine_silu_avx2(const float *x, float *y, size_t n, float scale, float shift) {
    __m256 s = _mm256_set1_ps(scale), b = _mm256_set1_ps(shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 t0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), s, b), t1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), s, b);
        _mm256_storeu_ps(y + i, dk_silu8_fast(t0));
        _mm256_storeu_ps(y + i + 8, dk_silu8_fast(t1));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, dk_silu8_fast(_mm256_fmadd_ps(_mm256_loadu_ps(x + i), s, b)));
    if (i < n) {
        __m256i m = dk_tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, dk_silu8_fast(_mm256_fmadd_ps(_mm256_maskload_ps(x + i, m), s, b)));
    }
}
#endif

void dk_group_norm_group(const float *x, float *y, size_t channels, size_t plane, const float *gamma,
                         const float *beta, float eps, dk_activation act) {
    float mean, var;
    dk_moments(x, channels * plane, &mean, &var);
    float rstd = 1.0f / sqrtf(var + eps);
    for (size_t c = 0; c < channels; c++) {
        float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        float scale = rstd * g;
        float shift = b - mean * scale;
#ifdef DK_X86
        if (act == DK_ACT_SILU && dk_use_avx2()) { affine_silu_avx2(x + c * plane, y + c * plane, plane, scale, shift); continue; }
#endif
        dk_affine_activation(x + c * plane, y + c * plane, plane, scale, shift, act);
    }
}

#ifdef DK_X86
DK_AVX2 static void layer_norm_apply_avx2(const float *x, float *y, size_t cols, float mean, float rstd,
                                          const float *gamma, const float *beta) {
    __m256 vm = _mm256_set1_ps(mean), vr = _mm256_set1_ps(rstd);
    size_t c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm), vr);
        if (gamma) v = _mm256_mul_ps(v, _mm256_loadu_ps(gamma + c));
        if (beta) v = _mm256_add_ps(v, _mm256_loadu_ps(beta + c));
        _mm256_storeu_ps(y + c, v);
    }
    for (; c < cols; c++) {
        float v = (x[c] - mean) * rstd;
        if (gamma) v *= gamma[c];
        if (beta) v += beta[c];
        y[c] = v;
    }
}
#endif

void dk_layer_norm_rows(const float *x, size_t ld_x, float *y, size_t ld_y, size_t rows, size_t cols,
                        const float *gamma, const float *beta, float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ld_x;
        float *yr = y + r * ld_y;
        float mean, var;
        dk_moments(xr, cols, &mean, &var);
        float rstd = 1.0f / sqrtf(var + eps);
#ifdef DK_X86
        if (dk_use_avx2()) { layer_norm_apply_avx2(xr, yr, cols, mean, rstd, gamma, beta); continue; }
#endif
        for (size_t c = 0; c < cols; c++) {
            float v = (xr[c] - mean) * rstd;
            if (gamma) v *= gamma[c];
            if (beta) v += beta[c];
            yr[c] = v;
        }
    }
}
