#include "dk_softmax.h"
#include "dk_cpu.h"
#include "dk_simd.h"

/// In-place exp(x − m) of n elements, returning their sum.
static float exp_shift_sum_portable(float *x, size_t n, float m) {
    float s = 0;
    for (size_t i = 0; i < n; i++) { float e = expf(x[i] - m); x[i] = e; s += e; }
    return s;
}

static float max_portable(const float *x, size_t n) {
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++) if (x[i] > m) m = x[i];
    return m;
}

#ifdef DK_X86
DK_AVX2 static float exp_shift_sum_avx2(float *x, size_t n, float m) {
    __m256 vm = _mm256_set1_ps(m), acc = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = dk_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        __m256 e1 = dk_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm));
        _mm256_storeu_ps(x + i, e0);
        _mm256_storeu_ps(x + i + 8, e1);
        acc = _mm256_add_ps(acc, e0);
        acc2 = _mm256_add_ps(acc2, e1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 e = dk_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) {
        __m256i mask = dk_tail_mask(n - i);
        __m256 e = dk_exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), vm));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(mask));
        _mm256_maskstore_ps(x + i, mask, e);
        acc = _mm256_add_ps(acc, e);
    }
    return dk_hsum8(_mm256_add_ps(acc, acc2));
}

DK_AVX2 static float max_avx2(const float *x, size_t n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    }
    for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
    float m = dk_hmax8(_mm256_max_ps(m0, m1));
    for (; i < n; i++) if (x[i] > m) m = x[i];
    return m;
}

DK_AVX2 static void scale_avx2(float *x, size_t n, float f) {
    __m256 vf = _mm256_set1_ps(f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vf));
    for (; i < n; i++) x[i] *= f;
}
#endif

static float exp_shift_sum(float *x, size_t n, float m) {
#ifdef DK_X86
    if (dk_use_avx2()) return exp_shift_sum_avx2(x, n, m);
#endif
    return exp_shift_sum_portable(x, n, m);
}

static float row_max(const float *x, size_t n) {
#ifdef DK_X86
    if (dk_use_avx2()) return max_avx2(x, n);
#endif
    return max_portable(x, n);
}

static void scale_row(float *x, size_t n, float f) {
#ifdef DK_X86
    if (dk_use_avx2()) { scale_avx2(x, n, f); return; }
#endif
    for (size_t i = 0; i < n; i++) x[i] *= f;
}

#ifdef DK_X86
/* One row of softmax(scale·x) in three passes over L1-resident data: the maximum of scale·x; e = exp(scale·x − m)
   with the lean exponential, stored and summed; y = e · (1/sum). No per-element division. */
DK_AVX2 static void softmax_row_avx2(const float *x, float *y, size_t n, float scale) {
    const __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
    __m256 m0 = ninf, m1 = ninf;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
        m1 = _mm256_max_ps(m1, _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vs));
    }
    for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(m0, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    const size_t full = i;
    const __m256i tail = dk_tail_mask(n - full);
    if (full < n) {
        __m256 t = _mm256_mul_ps(_mm256_maskload_ps(x + full, tail), vs);
        m1 = _mm256_max_ps(m1, _mm256_blendv_ps(ninf, t, _mm256_castsi256_ps(tail)));
    }
    __m256 vm = _mm256_set1_ps(dk_hmax8(_mm256_max_ps(m0, m1)));
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    for (i = 0; i + 16 <= n; i += 16) {
        __m256 e0 = dk_exp8_fast(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, vm));
        __m256 e1 = dk_exp8_fast(_mm256_fmsub_ps(_mm256_loadu_ps(x + i + 8), vs, vm));
        _mm256_storeu_ps(y + i, e0);
        _mm256_storeu_ps(y + i + 8, e1);
        s0 = _mm256_add_ps(s0, e0);
        s1 = _mm256_add_ps(s1, e1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 e = dk_exp8_fast(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, vm));
        _mm256_storeu_ps(y + i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    if (full < n) {
        __m256 e = dk_exp8_fast(_mm256_fmsub_ps(_mm256_maskload_ps(x + full, tail), vs, vm));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(tail));
        _mm256_maskstore_ps(y + full, tail, e);
        s1 = _mm256_add_ps(s1, e);
    }
    __m256 inv = _mm256_set1_ps(1.0f / dk_hsum8(_mm256_add_ps(s0, s1)));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
    if (full < n) _mm256_maskstore_ps(y + full, tail, _mm256_mul_ps(_mm256_maskload_ps(y + full, tail), inv));
}

DK_AVX512 static void softmax_row_avx512(const float *x, float *y, size_t n, float scale) {
    const __m512 vs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_mul_ps(_mm512_loadu_ps(x + i), vs));
        m1 = _mm512_max_ps(m1, _mm512_mul_ps(_mm512_loadu_ps(x + i + 16), vs));
    }
    for (; i < n; i += 16) {
        __mmask16 k = dk_tail_mask16(n - i);
        m0 = _mm512_mask_max_ps(m0, k, m0, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vs));
    }
    __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(m0, m1)));
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    for (i = 0; i + 32 <= n; i += 32) {
        __m512 e0 = dk_exp16_fast(_mm512_fmsub_ps(_mm512_loadu_ps(x + i), vs, vm));
        __m512 e1 = dk_exp16_fast(_mm512_fmsub_ps(_mm512_loadu_ps(x + i + 16), vs, vm));
        _mm512_storeu_ps(y + i, e0);
        _mm512_storeu_ps(y + i + 16, e1);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = dk_tail_mask16(n - i);
        __m512 e = _mm512_maskz_mov_ps(k, dk_exp16_fast(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(k, x + i), vs, vm)));
        _mm512_mask_storeu_ps(y + i, k, e);
        s1 = _mm512_add_ps(s1, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)));
    for (i = 0; i < n; i += 16) {
        __mmask16 k = dk_tail_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + i), inv));
    }
}
#endif

void dk_softmax_rows(const float *x, size_t ld_x, float *y, size_t ld_y, size_t rows, size_t cols, float scale) {
    if (cols == 0) return;
#ifdef DK_X86
    int level = dk_cpu_level();
#endif
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ld_x;
        float *yr = y + r * ld_y;
#ifdef DK_X86
        if (level >= 2) { softmax_row_avx512(xr, yr, cols, scale); continue; }
        if (level >= 1) { softmax_row_avx2(xr, yr, cols, scale); continue; }
#endif
        if (scale != 1.0f || xr != yr) {
            for (size_t c = 0; c < cols; c++) yr[c] = xr[c] * scale;
        }
        float m = max_portable(yr, cols);
        float s = exp_shift_sum_portable(yr, cols, m);
        float inv = 1.0f / s;
        for (size_t c = 0; c < cols; c++) yr[c] *= inv;
    }
}

void dk_online_softmax_block(float *s, size_t ld, size_t rows, size_t cols, float *row_max_io, float *row_sum,
                             float *correction, int causal, long diagonal) {
    for (size_t r = 0; r < rows; r++) {
        float *sr = s + r * ld;
        size_t valid = cols;
        if (causal) {
            long v = diagonal + (long)r + 1;
            valid = v <= 0 ? 0 : ((size_t)v < cols ? (size_t)v : cols);
        }
        for (size_t c = valid; c < cols; c++) sr[c] = 0.0f;
        if (valid == 0) { correction[r] = 1.0f; continue; }
        float bm = row_max(sr, valid);
        float old = row_max_io[r];
        float m = bm > old ? bm : old;
        if (m == -INFINITY) { // every visible score is −inf so far: nothing to add
            for (size_t c = 0; c < valid; c++) sr[c] = 0.0f;
            correction[r] = 1.0f;
            continue;
        }
        float sum = exp_shift_sum(sr, valid, m);
        float corr = old == -INFINITY ? 0.0f : expf(old - m);
        correction[r] = corr;
        row_sum[r] = row_sum[r] * corr + sum;
        row_max_io[r] = m;
    }
}

void dk_scale_rows(float *x, size_t ld, size_t rows, size_t cols, const float *factors, int reciprocal) {
    for (size_t r = 0; r < rows; r++) {
        float f = reciprocal ? 1.0f / factors[r] : factors[r];
        if (f != 1.0f) scale_row(x + r * ld, cols, f);
    }
}
