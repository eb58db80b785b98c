#include "dk_norm.h"
#include "dk_cpu.h"
#include "dk_simd.h"

// MARK: moments
// Sum and sum of squares in one read, accumulated in double: a float's square is exact in double, so
// variance = E[x²] − mean² loses nothing to cancellation even when the mean is large against the spread, and a
// GroupNorm group (up to millions of elements) is read once instead of twice.

static void sums_portable(const float *x, size_t n, double *sum, double *sumsq) {
    double s[4] = {0, 0, 0, 0}, q[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) { double v = x[i + l]; s[l] += v; q[l] += v * v; }
    for (; i < n; i++) { double v = x[i]; s[0] += v; q[0] += v * v; }
    *sum = (s[0] + s[1]) + (s[2] + s[3]);
    *sumsq = (q[0] + q[1]) + (q[2] + q[3]);
}

#ifdef DK_X86
DK_AVX2 static inline double hsum4d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

DK_AVX2 static void sums_avx2(const float *x, size_t n, double *sum, double *sumsq) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        __m256d a0 = _mm256_cvtps_pd(_mm256_castps256_ps128(a)), a1 = _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));
        __m256d b0 = _mm256_cvtps_pd(_mm256_castps256_ps128(b)), b1 = _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1));
        s0 = _mm256_add_pd(s0, a0); q0 = _mm256_fmadd_pd(a0, a0, q0);
        s1 = _mm256_add_pd(s1, a1); q1 = _mm256_fmadd_pd(a1, a1, q1);
        s2 = _mm256_add_pd(s2, b0); q2 = _mm256_fmadd_pd(b0, b0, q2);
        s3 = _mm256_add_pd(s3, b1); q3 = _mm256_fmadd_pd(b1, b1, q3);
    }
    for (; i + 4 <= n; i += 4) {
        __m256d a = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
        s0 = _mm256_add_pd(s0, a); q0 = _mm256_fmadd_pd(a, a, q0);
    }
    double s = hsum4d(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
    double q = hsum4d(_mm256_add_pd(_mm256_add_pd(q0, q1), _mm256_add_pd(q2, q3)));
    for (; i < n; i++) { double v = x[i]; s += v; q += v * v; }
    *sum = s;
    *sumsq = q;
}

DK_AVX512 static void sums_avx512(const float *x, size_t n, double *sum, double *sumsq) {
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512d a0 = _mm512_cvtps_pd(_mm256_loadu_ps(x + i)), a1 = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
        __m512d b0 = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 16)), b1 = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 24));
        s0 = _mm512_add_pd(s0, a0); q0 = _mm512_fmadd_pd(a0, a0, q0);
        s1 = _mm512_add_pd(s1, a1); q1 = _mm512_fmadd_pd(a1, a1, q1);
        s2 = _mm512_add_pd(s2, b0); q2 = _mm512_fmadd_pd(b0, b0, q2);
        s3 = _mm512_add_pd(s3, b1); q3 = _mm512_fmadd_pd(b1, b1, q3);
    }
    for (; i + 8 <= n; i += 8) {
        __m512d a = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
        s0 = _mm512_add_pd(s0, a); q0 = _mm512_fmadd_pd(a, a, q0);
    }
    if (i < n) {
        __mmask16 m = dk_tail_mask16(n - i);
        __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(m, x + i)));
        s1 = _mm512_add_pd(s1, a); q1 = _mm512_fmadd_pd(a, a, q1);
    }
    *sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
    *sumsq = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(q0, q1), _mm512_add_pd(q2, q3)));
}
#endif

static void sums_at(int level, const float *x, size_t n, double *sum, double *sumsq) {
#ifdef DK_X86
    if (level >= 2) { sums_avx512(x, n, sum, sumsq); return; }
    if (level >= 1) { sums_avx2(x, n, sum, sumsq); return; }
#endif
    (void)level;
    sums_portable(x, n, sum, sumsq);
}

/// Mean and biased variance from the double sums (the variance clamped at 0 against rounding).
static void moments_from_sums(double s, double q, size_t n, float *mean, float *variance) {
    double m = s / (double)n;
    double v = q / (double)n - m * m;
    *mean = (float)m;
    *variance = v > 0 ? (float)v : 0.0f;
}

void dk_moments(const float *x, size_t n, float *mean, float *variance) {
    if (n == 0) { *mean = 0; *variance = 0; return; }
    double s, q;
    sums_at(dk_cpu_level(), x, n, &s, &q);
    moments_from_sums(s, q, n, mean, variance);
}

// MARK: GroupNorm apply: y = act(x·scale + shift) per channel

#ifdef DK_X86
/* The GroupNorm+SiLU epilogue of every UNet and VAE resnet with the division-free sigmoid (the general
   activation kernel's exact division and edge handling cost more than the memory pass). */
DK_AVX2 static void affine_apply_avx2(const float *x, float *y, size_t n, float scale, float shift, int silu) {
    __m256 s = _mm256_set1_ps(scale), b = _mm256_set1_ps(shift);
    size_t i = 0;
    if (silu) {
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
    } else {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), s, b));
        if (i < n) {
            __m256i m = dk_tail_mask(n - i);
            _mm256_maskstore_ps(y + i, m, _mm256_fmadd_ps(_mm256_maskload_ps(x + i, m), s, b));
        }
    }
}

DK_AVX512 static void affine_apply_avx512(const float *x, float *y, size_t n, float scale, float shift, int silu) {
    __m512 s = _mm512_set1_ps(scale), b = _mm512_set1_ps(shift);
    size_t i = 0;
    if (silu) {
        for (; i + 32 <= n; i += 32) {
            __m512 t0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), s, b), t1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), s, b);
            _mm512_storeu_ps(y + i, dk_silu16_fast(t0));
            _mm512_storeu_ps(y + i + 16, dk_silu16_fast(t1));
        }
        for (; i < n; i += 16) {
            __mmask16 m = dk_tail_mask16(n - i);
            _mm512_mask_storeu_ps(y + i, m, dk_silu16_fast(_mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), s, b)));
        }
    } else {
        for (; i < n; i += 16) {
            __mmask16 m = dk_tail_mask16(n - i);
            _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), s, b));
        }
    }
}
#endif

static void affine_apply(int level, const float *x, float *y, size_t n, float scale, float shift, dk_activation act) {
#ifdef DK_X86
    if (act == DK_ACT_SILU || act == DK_ACT_NONE) {
        if (level >= 2) { affine_apply_avx512(x, y, n, scale, shift, act == DK_ACT_SILU); return; }
        if (level >= 1) { affine_apply_avx2(x, y, n, scale, shift, act == DK_ACT_SILU); return; }
    }
#endif
    (void)level;
    dk_affine_activation(x, y, n, scale, shift, act);
}

void dk_group_norm_group(const float *x, float *y, size_t channels, size_t plane, const float *gamma,
                         const float *beta, float eps, dk_activation act) {
    size_t n = channels * plane;
    if (n == 0) return;
    int level = dk_cpu_level();
    double s, q;
    sums_at(level, x, n, &s, &q);
    float mean, var;
    moments_from_sums(s, q, n, &mean, &var);
    float rstd = 1.0f / sqrtf(var + eps);
    for (size_t c = 0; c < channels; c++) {
        float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        float scale = rstd * g;
        affine_apply(level, x + c * plane, y + c * plane, plane, scale, b - mean * scale, act);
    }
}

// MARK: LayerNorm (rows are short and stay in L1: two float passes for the moments, one to apply)

static void layer_norm_row_portable(const float *x, float *y, size_t cols, const float *gamma, const float *beta,
                                    float eps) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= cols; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += x[i + l];
    float s = 0;
    for (int l = 0; l < 8; l++) s += acc[l];
    for (; i < cols; i++) s += x[i];
    float m = s / (float)cols;
    float q[8] = {0};
    i = 0;
    for (; i + 8 <= cols; i += 8)
        for (int l = 0; l < 8; l++) { float d = x[i + l] - m; q[l] += d * d; }
    float v = 0;
    for (int l = 0; l < 8; l++) v += q[l];
    for (; i < cols; i++) { float d = x[i] - m; v += d * d; }
    float rstd = 1.0f / sqrtf(v / (float)cols + eps);
    for (size_t c = 0; c < cols; c++) {
        float t = (x[c] - m) * rstd;
        if (gamma) t *= gamma[c];
        if (beta) t += beta[c];
        y[c] = t;
    }
}

#ifdef DK_X86
DK_AVX2 static void layer_norm_row_avx2(const float *x, float *y, size_t cols, const float *gamma, const float *beta,
                                        float eps) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    size_t i = 0;
    for (; i + 16 <= cols; i += 16) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    }
    for (; i + 8 <= cols; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    __m256i tail = dk_tail_mask(cols - i);
    a1 = _mm256_add_ps(a1, _mm256_maskload_ps(x + i, tail));
    float m = dk_hsum8(_mm256_add_ps(a0, a1)) / (float)cols;
    __m256 vm = _mm256_set1_ps(m);
    a0 = _mm256_setzero_ps(); a1 = a0;
    i = 0;
    for (; i + 16 <= cols; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm);
        a0 = _mm256_fmadd_ps(d0, d0, a0);
        a1 = _mm256_fmadd_ps(d1, d1, a1);
    }
    for (; i + 8 <= cols; i += 8) { __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm); a0 = _mm256_fmadd_ps(d, d, a0); }
    {
        __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, tail), vm), _mm256_castsi256_ps(tail));
        a1 = _mm256_fmadd_ps(d, d, a1);
    }
    float rstd = 1.0f / sqrtf(dk_hsum8(_mm256_add_ps(a0, a1)) / (float)cols + eps);
    __m256 vr = _mm256_set1_ps(rstd);
    size_t c = 0;
    if (gamma && beta) { /* (x − m)·rstd·γ + β as two fused steps */
        __m256 vmr = _mm256_set1_ps(m * rstd);
        for (; c + 8 <= cols; c += 8) {
            __m256 t = _mm256_fmsub_ps(_mm256_loadu_ps(x + c), vr, vmr);
            _mm256_storeu_ps(y + c, _mm256_fmadd_ps(t, _mm256_loadu_ps(gamma + c), _mm256_loadu_ps(beta + c)));
        }
        if (c < cols) {
            __m256 t = _mm256_fmsub_ps(_mm256_maskload_ps(x + c, tail), vr, vmr);
            _mm256_maskstore_ps(y + c, tail, _mm256_fmadd_ps(t, _mm256_maskload_ps(gamma + c, tail), _mm256_maskload_ps(beta + c, tail)));
        }
        return;
    }
    for (; c + 8 <= cols; c += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm), vr);
        if (gamma) v = _mm256_mul_ps(v, _mm256_loadu_ps(gamma + c));
        if (beta) v = _mm256_add_ps(v, _mm256_loadu_ps(beta + c));
        _mm256_storeu_ps(y + c, v);
    }
    if (c < cols) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + c, tail), vm), vr);
        if (gamma) v = _mm256_mul_ps(v, _mm256_maskload_ps(gamma + c, tail));
        if (beta) v = _mm256_add_ps(v, _mm256_maskload_ps(beta + c, tail));
        _mm256_maskstore_ps(y + c, tail, v);
    }
}

DK_AVX512 static void layer_norm_row_avx512(const float *x, float *y, size_t cols, const float *gamma,
                                            const float *beta, float eps) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    size_t i = 0;
    for (; i + 32 <= cols; i += 32) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i < cols; i += 16) a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(dk_tail_mask16(cols - i), x + i));
    float m = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) / (float)cols;
    __m512 vm = _mm512_set1_ps(m);
    a0 = _mm512_setzero_ps(); a1 = a0;
    i = 0;
    for (; i + 32 <= cols; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), vm), d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm);
        a0 = _mm512_fmadd_ps(d0, d0, a0);
        a1 = _mm512_fmadd_ps(d1, d1, a1);
    }
    for (; i < cols; i += 16) {
        __mmask16 k = dk_tail_mask16(cols - i);
        __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), vm);
        a0 = _mm512_fmadd_ps(d, d, a0);
    }
    float rstd = 1.0f / sqrtf(_mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) / (float)cols + eps);
    __m512 vr = _mm512_set1_ps(rstd);
    if (gamma && beta) { /* (x − m)·rstd·γ + β as two fused steps */
        __m512 vmr = _mm512_set1_ps(m * rstd);
        size_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            __m512 t = _mm512_fmsub_ps(_mm512_loadu_ps(x + c), vr, vmr);
            _mm512_storeu_ps(y + c, _mm512_fmadd_ps(t, _mm512_loadu_ps(gamma + c), _mm512_loadu_ps(beta + c)));
        }
        if (c < cols) {
            __mmask16 k = dk_tail_mask16(cols - c);
            __m512 t = _mm512_fmsub_ps(_mm512_maskz_loadu_ps(k, x + c), vr, vmr);
            _mm512_mask_storeu_ps(y + c, k, _mm512_fmadd_ps(t, _mm512_maskz_loadu_ps(k, gamma + c), _mm512_maskz_loadu_ps(k, beta + c)));
        }
        return;
    }
    for (size_t c = 0; c < cols; c += 16) {
        __mmask16 k = dk_tail_mask16(cols - c);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + c), vm), vr);
        if (gamma) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, gamma + c));
        if (beta) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, beta + c));
        _mm512_mask_storeu_ps(y + c, k, v);
    }
}
#endif

void dk_layer_norm_rows(const float *x, size_t ld_x, float *y, size_t ld_y, size_t rows, size_t cols,
                        const float *gamma, const float *beta, float eps) {
    if (cols == 0) return;
    int level = dk_cpu_level();
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ld_x;
        float *yr = y + r * ld_y;
#ifdef DK_X86
        if (level >= 2) { layer_norm_row_avx512(xr, yr, cols, gamma, beta, eps); continue; }
        if (level >= 1) { layer_norm_row_avx2(xr, yr, cols, gamma, beta, eps); continue; }
#endif
        layer_norm_row_portable(xr, yr, cols, gamma, beta, eps);
    }
}
