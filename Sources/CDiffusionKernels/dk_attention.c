// Fused attention tile (see dk_attention.h). One call: a tile of up to QT query rows of one head against all
// keys, keys taken KB at a time:
//   1. scores Sᵀ[key][query] = K_blk · (scale·Q)ᵀ, a register-tiled FMA kernel (6 keys × 16 queries; 6 × 32 in
//      16-lane vectors on AVX-512 processors when nothing is masked) reading the head's keys packed once per
//      call (dk_attention_pack) and the tile's queries from a transposed copy, with each query column's running
//      maximum kept as the tiles are stored (the softmax axis is the vertical one, so no horizontal reductions);
//   2. the online-softmax step: new maxima, exp(s − m) in place (a vector polynomial), the column sums, and
//      the correction factor exp(m_old − m_new) for the output rows accumulated so far;
//   3. O[query][:] = O·correction + Σ_key P[key][query]·V[key][:], a 2-row × up-to-40-column FMA kernel (on
//      AVX-512 processors, for heads a multiple of 16 wide, a 4-row × up-to-64-column one in 16-lane vectors).
// The score block (KB × QT floats) and the output accumulator (QT × dv) live in the caller's scratch and stay
// in L1/L2; nothing of size keys × queries is ever written.
#include "dk_attention.h"
#include "dk_cpu.h"
#include "dk_simd.h"
#include <string.h>

#define QT 64  /* query rows per tile (four 16-wide column groups) */
#define KB 120 /* keys per block (a multiple of the score kernel's 6 keys) */

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* Packed keys and values of one head: keys in groups of 6, each [d][6] (zero past the last key), so the score
   kernel reads its six broadcasts from one place; then values [keys][dvp], rows padded with zeros to a whole
   number of 8-lane vectors. */
static size_t packed_keys_count(size_t keys, size_t d) { return round_up(round_up(keys, 6) * d, 16); }

size_t dk_attention_packed_count(size_t keys, size_t d, size_t dv) {
    return packed_keys_count(keys, d) + keys * round_up(dv, 8);
}

void dk_attention_pack(const float *k, size_t ldk, const float *v, size_t ldv, size_t keys, size_t d, size_t dv,
                       float *packed) {
    float *kp = packed;
    for (size_t kk = 0; kk < keys; kk += 6, kp += 6 * d) {
        size_t nk = keys - kk < 6 ? keys - kk : 6;
        for (size_t i = 0; i < 6; i++) {
            if (i < nk) {
                const float *kr = k + (kk + i) * ldk;
                for (size_t j = 0; j < d; j++) kp[j * 6 + i] = kr[j];
            } else {
                for (size_t j = 0; j < d; j++) kp[j * 6 + i] = 0.0f;
            }
        }
    }
    size_t dvp = round_up(dv, 8);
    float *vp = packed + packed_keys_count(keys, d);
    for (size_t kk = 0; kk < keys; kk++) {
        memcpy(vp + kk * dvp, v + kk * ldv, dv * sizeof(float));
        for (size_t c = dv; c < dvp; c++) vp[kk * dvp + c] = 0.0f;
    }
}

size_t dk_attention_query_tile(void) { return QT; }

int dk_attention_fused_available(void) {
#ifdef DK_X86
    return dk_cpu_level() >= 1;
#else
    return 0;
#endif
}

/* Scratch (floats, each part a multiple of 16): qt [d][QT] | st [KB][QT] | acc [QT][dvp] | m, l, corr, bmax [QT]. */
size_t dk_attention_scratch_count(size_t d, size_t dv) {
    return d * QT + KB * QT + QT * round_up(dv, 8) + 4 * QT;
}

#ifdef DK_X86
#define DK_AI __attribute__((always_inline)) static inline

/* Scores of NK (1…6) keys (kp: the keys packed [d][6]) against 16 queries (columns of qt, stride QT):
   st[i*QT + 0..16) = Σ_j kp[j][i]·qt[j][0..16). With `masked`, key i is hidden from query lane l when
   l < i − diag (diag = the lanes' first query index − the first key index), and its score becomes −inf.
   Each query's maximum over these keys is merged into bmax[0..16). */
DK_AVX2 DK_AI void qk_tile(const int NK, const float *kp, const float *qt, size_t d, float *st,
                           float *bmax, int masked, long diag) {
    __m256 a[6][2];
    for (int i = 0; i < 6; i++) a[i][0] = a[i][1] = _mm256_setzero_ps();
    for (size_t j = 0; j < d; j++) {
        __m256 b0 = _mm256_load_ps(qt + j * QT), b1 = _mm256_load_ps(qt + j * QT + 8);
        for (int i = 0; i < NK; i++) {
            __m256 ki = _mm256_broadcast_ss(kp + j * 6 + i);
            a[i][0] = _mm256_fmadd_ps(ki, b0, a[i][0]);
            a[i][1] = _mm256_fmadd_ps(ki, b1, a[i][1]);
        }
    }
    if (masked) {
        const __m256i idx0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), idx1 = _mm256_add_epi32(idx0, _mm256_set1_epi32(8));
        const __m256 ninf = _mm256_set1_ps(-INFINITY);
        for (int i = 0; i < NK; i++) {
            long t = (long)i - diag;
            __m256i tv = _mm256_set1_epi32(t < -1 ? -1 : (t > 16 ? 16 : (int)t));
            a[i][0] = _mm256_blendv_ps(a[i][0], ninf, _mm256_castsi256_ps(_mm256_cmpgt_epi32(tv, idx0)));
            a[i][1] = _mm256_blendv_ps(a[i][1], ninf, _mm256_castsi256_ps(_mm256_cmpgt_epi32(tv, idx1)));
        }
    }
    __m256 m0 = _mm256_load_ps(bmax), m1 = _mm256_load_ps(bmax + 8);
    for (int i = 0; i < NK; i++) {
        _mm256_store_ps(st + i * QT, a[i][0]);
        _mm256_store_ps(st + i * QT + 8, a[i][1]);
        m0 = _mm256_max_ps(m0, a[i][0]);
        m1 = _mm256_max_ps(m1, a[i][1]);
    }
    _mm256_store_ps(bmax, m0);
    _mm256_store_ps(bmax + 8, m1);
}

DK_AVX2 static void qk_block_avx2(const float *kp, const float *qt, size_t d, size_t cols, size_t groups,
                                  float *st, float *bmax, int causal, long diag0) {
    for (size_t kk = 0; kk < cols; kk += 6) {
        int nk = cols - kk < 6 ? (int)(cols - kk) : 6;
        const float *kr = kp + kk * d;
        for (size_t g = 0; g < groups; g++) {
            long diag = diag0 + (long)(g * 16) - (long)kk;
            int masked = causal && diag < nk - 1;
            const float *qg = qt + g * 16;
            float *sg = st + kk * QT + g * 16, *mg = bmax + g * 16;
            switch (nk) {
            case 6: qk_tile(6, kr, qg, d, sg, mg, masked, diag); break;
            case 5: qk_tile(5, kr, qg, d, sg, mg, masked, diag); break;
            case 4: qk_tile(4, kr, qg, d, sg, mg, masked, diag); break;
            case 3: qk_tile(3, kr, qg, d, sg, mg, masked, diag); break;
            case 2: qk_tile(2, kr, qg, d, sg, mg, masked, diag); break;
            default: qk_tile(1, kr, qg, d, sg, mg, masked, diag); break;
            }
        }
    }
}

/* The online-softmax step for one 8-query column: returns the shift (the new maximum, 0 where no score is
   visible yet, so that exp of −inf stays 0) and stores the new maximum and the correction factor. */
DK_AVX2 DK_AI __m256 softmax_shift(float *m, float *corr, const float *bmax, __m256 *sum, const float *l) {
    __m256 mold = _mm256_load_ps(m);
    __m256 mnew = _mm256_max_ps(mold, _mm256_load_ps(bmax));
    __m256 shift = _mm256_blendv_ps(mnew, _mm256_setzero_ps(), _mm256_cmp_ps(mnew, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ));
    __m256 cr = dk_exp8_fast(_mm256_sub_ps(mold, shift));
    *sum = _mm256_mul_ps(_mm256_load_ps(l), cr);
    _mm256_store_ps(m, mnew);
    _mm256_store_ps(corr, cr);
    return shift;
}

/* The online-softmax step over `groups` 16-query columns of the block's scores (cols keys): p = exp(s − m_new)
   in place, the running sums and maxima updated, corr = exp(m_old − m_new). One 16-query column is one cache
   line per key, walked down the keys. */
DK_AVX2 static void softmax_block_avx2(float *st, size_t cols, size_t groups, float *m, float *l, float *corr,
                                       const float *bmax) {
    for (size_t g = 0; g < groups; g++) {
        size_t c = 16 * g;
        __m256 s0, s1;
        __m256 sh0 = softmax_shift(m + c, corr + c, bmax + c, &s0, l + c);
        __m256 sh1 = softmax_shift(m + c + 8, corr + c + 8, bmax + c + 8, &s1, l + c + 8);
        float *col = st + c;
        for (size_t j = 0; j < cols; j++) {
            __m256 p0 = dk_exp8_fast(_mm256_sub_ps(_mm256_load_ps(col + j * QT), sh0));
            __m256 p1 = dk_exp8_fast(_mm256_sub_ps(_mm256_load_ps(col + j * QT + 8), sh1));
            _mm256_store_ps(col + j * QT, p0);
            _mm256_store_ps(col + j * QT + 8, p1);
            s0 = _mm256_add_ps(s0, p0);
            s1 = _mm256_add_ps(s1, p1);
        }
        _mm256_store_ps(l + c, s0);
        _mm256_store_ps(l + c + 8, s1);
    }
}

#define DK_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

/* softmax_block_avx2 with one 16-lane vector per 16-query column. */
DK_AVX512 static void softmax_block_avx512(float *st, size_t cols, size_t groups, float *m, float *l, float *corr,
                                           const float *bmax) {
    for (size_t g = 0; g < groups; g++) {
        size_t c = 16 * g;
        __m512 mold = _mm512_loadu_ps(m + c);
        __m512 mnew = _mm512_max_ps(mold, _mm512_loadu_ps(bmax + c));
        __m512 shift = _mm512_mask_mov_ps(mnew, _mm512_cmp_ps_mask(mnew, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ),
                                          _mm512_setzero_ps());
        __m512 cr = dk_exp16_fast(_mm512_sub_ps(mold, shift));
        __m512 s0 = _mm512_mul_ps(_mm512_loadu_ps(l + c), cr), s1 = _mm512_setzero_ps();
        float *col = st + c;
        size_t j = 0;
        for (; j + 2 <= cols; j += 2) {
            __m512 p0 = dk_exp16_fast(_mm512_sub_ps(_mm512_loadu_ps(col + j * QT), shift));
            __m512 p1 = dk_exp16_fast(_mm512_sub_ps(_mm512_loadu_ps(col + (j + 1) * QT), shift));
            _mm512_storeu_ps(col + j * QT, p0);
            _mm512_storeu_ps(col + (j + 1) * QT, p1);
            s0 = _mm512_add_ps(s0, p0);
            s1 = _mm512_add_ps(s1, p1);
        }
        if (j < cols) {
            __m512 p0 = dk_exp16_fast(_mm512_sub_ps(_mm512_loadu_ps(col + j * QT), shift));
            _mm512_storeu_ps(col + j * QT, p0);
            s0 = _mm512_add_ps(s0, p0);
        }
        _mm512_storeu_ps(l + c, _mm512_add_ps(s0, s1));
        _mm512_storeu_ps(m + c, mnew);
        _mm512_storeu_ps(corr + c, cr);
    }
}

/* acc[i][0..8·NV) = acc[i]·corr[i] + Σ_key p[key][i]·v[key][0..8·NV) for NR (1 or 2) rows. p has row stride
   QT; v (packed values) and acc have row stride dvp. */
DK_AVX2 DK_AI void pv_rows(const int NR, const int NV, const float *p, size_t cols, const float *v, float *acc,
                           size_t dvp, const float *corr) {
    __m256 o[2][5];
    for (int i = 0; i < NR; i++) {
        __m256 c = _mm256_broadcast_ss(corr + i);
        for (int j = 0; j < NV; j++) o[i][j] = _mm256_mul_ps(_mm256_load_ps(acc + i * dvp + 8 * j), c);
    }
    for (size_t kk = 0; kk < cols; kk++) {
        const float *vr = v + kk * dvp;
        __m256 vv[5];
        for (int j = 0; j < NV; j++) vv[j] = _mm256_load_ps(vr + 8 * j);
        for (int i = 0; i < NR; i++) {
            __m256 pi = _mm256_broadcast_ss(p + kk * QT + i);
            for (int j = 0; j < NV; j++) o[i][j] = _mm256_fmadd_ps(pi, vv[j], o[i][j]);
        }
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NV; j++) _mm256_store_ps(acc + i * dvp + 8 * j, o[i][j]);
}

#define PV_NV(NR)                                                                                 \
    switch (nv) {                                                                                 \
    case 5: pv_rows(NR, 5, pr, cols, vc, ar, dvp, cr); break;                                      \
    case 4: pv_rows(NR, 4, pr, cols, vc, ar, dvp, cr); break;                                      \
    case 3: pv_rows(NR, 3, pr, cols, vc, ar, dvp, cr); break;                                      \
    case 2: pv_rows(NR, 2, pr, cols, vc, ar, dvp, cr); break;                                      \
    default: pv_rows(NR, 1, pr, cols, vc, ar, dvp, cr); break;                                     \
    }

DK_AVX2 static void pv_block_avx2(const float *st, size_t cols, const float *vp, float *acc, size_t dvp,
                                  const float *corr, size_t rows) {
    for (size_t c0 = 0; c0 < dvp; c0 += 40) {
        int nv = (int)((dvp - c0 < 40 ? dvp - c0 : 40) / 8);
        const float *vc = vp + c0;
        for (size_t r = 0; r < rows; r += 2) {
            const float *pr = st + r, *cr = corr + r;
            float *ar = acc + r * dvp + c0;
            if (rows - r >= 2) { PV_NV(2) } else { PV_NV(1) }
        }
    }
}

/* pv_rows with 16-lane vectors, for value rows a whole number of 16-lane vectors wide (64-wide heads): NR (1…4)
   rows × NV (1…4) vectors, so one key's values (up to four loads) feed up to sixteen FMAs. The same products in
   the same order as pv_rows, so the result is the same. */
DK_AVX512 DK_AI void pv_rows16(const int NR, const int NV, const float *p, size_t cols, const float *v, float *acc,
                               size_t dvp, const float *corr) {
    __m512 o[4][4];
    for (int i = 0; i < NR; i++) {
        __m512 c = _mm512_set1_ps(corr[i]);
        for (int j = 0; j < NV; j++) o[i][j] = _mm512_mul_ps(_mm512_loadu_ps(acc + i * dvp + 16 * j), c);
    }
    for (size_t kk = 0; kk < cols; kk++) {
        const float *vr = v + kk * dvp;
        __m512 vv[4];
        for (int j = 0; j < NV; j++) vv[j] = _mm512_loadu_ps(vr + 16 * j);
        for (int i = 0; i < NR; i++) {
            __m512 pi = _mm512_set1_ps(p[kk * QT + i]);
            for (int j = 0; j < NV; j++) o[i][j] = _mm512_fmadd_ps(pi, vv[j], o[i][j]);
        }
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NV; j++) _mm512_storeu_ps(acc + i * dvp + 16 * j, o[i][j]);
}

#define PV16_NV(NR)                                                                               \
    switch (nv) {                                                                                 \
    case 4: pv_rows16(NR, 4, pr, cols, vc, ar, dvp, cr); break;                                    \
    case 3: pv_rows16(NR, 3, pr, cols, vc, ar, dvp, cr); break;                                    \
    case 2: pv_rows16(NR, 2, pr, cols, vc, ar, dvp, cr); break;                                    \
    default: pv_rows16(NR, 1, pr, cols, vc, ar, dvp, cr); break;                                   \
    }

/* pv_block_avx2 for dvp a multiple of 16: columns in chunks of 64, rows in fours. */
DK_AVX512 static void pv_block_avx512(const float *st, size_t cols, const float *vp, float *acc, size_t dvp,
                                      const float *corr, size_t rows) {
    for (size_t c0 = 0; c0 < dvp; c0 += 64) {
        int nv = (int)((dvp - c0 < 64 ? dvp - c0 : 64) / 16);
        const float *vc = vp + c0;
        for (size_t r = 0; r < rows; r += 4) {
            const float *pr = st + r, *cr = corr + r;
            float *ar = acc + r * dvp + c0;
            switch (rows - r < 4 ? rows - r : 4) {
            case 4: PV16_NV(4) break;
            case 3: PV16_NV(3) break;
            case 2: PV16_NV(2) break;
            default: PV16_NV(1) break;
            }
        }
    }
}

/* qk_tile for 32 queries (two 16-lane vectors) and no mask: each key's broadcast feeds two 16-lane FMAs, so a
   step over the head's width loads 8 values for 12 vector FMAs of 16 lanes (qk_tile: 8 for 12 of 8 lanes).
   The same products in the same order per lane as qk_tile. */
DK_AVX512 DK_AI void qk_tile32(const int NK, const float *kp, const float *qt, size_t d, float *st, float *bmax) {
    __m512 a[6][2];
    for (int i = 0; i < 6; i++) a[i][0] = a[i][1] = _mm512_setzero_ps();
    for (size_t j = 0; j < d; j++) {
        __m512 b0 = _mm512_loadu_ps(qt + j * QT), b1 = _mm512_loadu_ps(qt + j * QT + 16);
        for (int i = 0; i < NK; i++) {
            __m512 ki = _mm512_set1_ps(kp[j * 6 + i]);
            a[i][0] = _mm512_fmadd_ps(ki, b0, a[i][0]);
            a[i][1] = _mm512_fmadd_ps(ki, b1, a[i][1]);
        }
    }
    __m512 m0 = _mm512_loadu_ps(bmax), m1 = _mm512_loadu_ps(bmax + 16);
    for (int i = 0; i < NK; i++) {
        _mm512_storeu_ps(st + i * QT, a[i][0]);
        _mm512_storeu_ps(st + i * QT + 16, a[i][1]);
        m0 = _mm512_max_ps(m0, a[i][0]);
        m1 = _mm512_max_ps(m1, a[i][1]);
    }
    _mm512_storeu_ps(bmax, m0);
    _mm512_storeu_ps(bmax + 16, m1);
}

/* qk_block_avx2 without causal masking, 16-query groups taken in pairs (a lone last group through qk_tile). */
DK_AVX512 static void qk_block_avx512(const float *kp, const float *qt, size_t d, size_t cols, size_t groups,
                                      float *st, float *bmax) {
    for (size_t kk = 0; kk < cols; kk += 6) {
        int nk = cols - kk < 6 ? (int)(cols - kk) : 6;
        const float *kr = kp + kk * d;
        for (size_t g = 0; g < groups; g += 2) {
            const float *qg = qt + g * 16;
            float *sg = st + kk * QT + g * 16, *mg = bmax + g * 16;
            if (g + 1 < groups) {
                switch (nk) {
                case 6: qk_tile32(6, kr, qg, d, sg, mg); break;
                case 5: qk_tile32(5, kr, qg, d, sg, mg); break;
                case 4: qk_tile32(4, kr, qg, d, sg, mg); break;
                case 3: qk_tile32(3, kr, qg, d, sg, mg); break;
                case 2: qk_tile32(2, kr, qg, d, sg, mg); break;
                default: qk_tile32(1, kr, qg, d, sg, mg); break;
                }
            } else {
                switch (nk) {
                case 6: qk_tile(6, kr, qg, d, sg, mg, 0, 0); break;
                case 5: qk_tile(5, kr, qg, d, sg, mg, 0, 0); break;
                case 4: qk_tile(4, kr, qg, d, sg, mg, 0, 0); break;
                case 3: qk_tile(3, kr, qg, d, sg, mg, 0, 0); break;
                case 2: qk_tile(2, kr, qg, d, sg, mg, 0, 0); break;
                default: qk_tile(1, kr, qg, d, sg, mg, 0, 0); break;
                }
            }
        }
    }
}

DK_AVX2 static void tile_avx2(const float *q, size_t ldq, const float *packed, float *o, size_t ldo, size_t rows, size_t keys, size_t d, size_t dv, float scale,
                              int causal, long first_query, float *scratch, int wide) {
    size_t dvp = round_up(dv, 8);
    float *qt = scratch, *st = qt + d * QT, *acc = st + KB * QT, *m = acc + QT * dvp, *l = m + QT, *corr = l + QT,
          *bmax = corr + QT;
    const float *kp = packed, *vp = packed + packed_keys_count(keys, d);
    size_t groups = (rows + 15) / 16;
    for (size_t j = 0; j < d; j++)
        for (size_t r = 0; r < QT; r++) qt[j * QT + r] = r < rows ? q[r * ldq + j] * scale : 0.0f;
    for (size_t r = 0; r < QT; r++) { m[r] = -INFINITY; l[r] = 0.0f; }
    memset(acc, 0, rows * dvp * sizeof(float));
    size_t key_end = keys;
    if (causal) { /* keys past the tile's last query are hidden from all of its rows */
        long last = first_query + (long)rows;
        key_end = last <= 0 ? 0 : ((size_t)last < keys ? (size_t)last : keys);
    }
    for (size_t k0 = 0; k0 < key_end; k0 += KB) {
        size_t cols = key_end - k0 < KB ? key_end - k0 : KB;
        for (size_t r = 0; r < groups * 16; r++) bmax[r] = -INFINITY;
        if (wide && !causal) qk_block_avx512(kp + k0 * d, qt, d, cols, groups, st, bmax);
        else qk_block_avx2(kp + k0 * d, qt, d, cols, groups, st, bmax, causal, first_query - (long)k0);
        if (wide) softmax_block_avx512(st, cols, groups, m, l, corr, bmax);
        else softmax_block_avx2(st, cols, groups, m, l, corr, bmax);
        if (wide && dvp % 16 == 0) pv_block_avx512(st, cols, vp + k0 * dvp, acc, dvp, corr, rows);
        else pv_block_avx2(st, cols, vp + k0 * dvp, acc, dvp, corr, rows);
    }
    for (size_t r = 0; r < rows; r++) {
        float inv = 1.0f / l[r];
        for (size_t c = 0; c < dv; c++) o[r * ldo + c] = acc[r * dvp + c] * inv;
    }
}
#endif

int dk_attention_tile(const float *q, size_t ldq, const float *packed, float *o, size_t ldo, size_t rows,
                      size_t keys, size_t d, size_t dv, float scale, int causal, long first_query, float *scratch,
                      int level) {
    if (rows == 0) return 0;
    if (rows > QT || keys == 0 || d == 0 || dv == 0) return -1;
#ifdef DK_X86
    int best = dk_cpu_best_level();
    if (level > best) level = best; /* never an instruction the processor lacks, whatever the caller passed */
    if (level >= 1) {
        /* AVX-512 processors: the softmax step and, without a causal mask, the scores in 16-lane vectors; the
           value product too where the heads are a whole number of 16-lane vectors wide. */
        tile_avx2(q, ldq, packed, o, ldo, rows, keys, d, dv, scale, causal, first_query, scratch, level >= 2);
        return 0;
    }
#endif
    (void)q; (void)ldq; (void)packed; (void)o; (void)ldo; (void)scale; (void)causal;
    (void)first_query; (void)scratch; (void)level;
    return -1;
}
