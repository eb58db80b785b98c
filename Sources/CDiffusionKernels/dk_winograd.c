#include "dk_winograd.h"
#include "dk_conv.h"
#include "dk_conv_dispatch.h"
#include "dk_conv_half.h"
#include <string.h>

// Tiles transformed together along one tile row (vectorised across tiles).
#define SEG 32

// MARK: weight transform U = G·g·Gᵀ
//   G = [ 1/4 0 0 ; −1/6 −1/6 −1/6 ; −1/6 1/6 −1/6 ; 1/24 1/12 1/6 ; 1/24 −1/12 1/6 ; 0 0 1 ]

#define CI_BLOCK 64

DK_INLINE void wg_weights_body(const void *weight, int dtype, int cin, int co0, int con, float *u,
                               size_t u_plane) {
    float g[9][CI_BLOCK];
    float t[6][3][CI_BLOCK];
    float wide[9 * CI_BLOCK];
    size_t element = dtype == DK_CONV_WEIGHT_F32 ? 4 : 2;
    for (int co = co0; co < co0 + con; co++) {
        for (int cb = 0; cb < cin; cb += CI_BLOCK) {
            int nb = cin - cb < CI_BLOCK ? cin - cb : CI_BLOCK;
            size_t base = ((size_t)co * cin + cb) * 9;
            // The block's nb·9 weights are contiguous: widen them with the vector conversion, then regroup.
            dk_conv_widen((const char *)weight + base * element, dtype, (size_t)nb * 9, wide);
            for (int k = 0; k < nb; k++)
                for (int e = 0; e < 9; e++) g[e][k] = wide[k * 9 + e];
            // Columns first: t[row ξr][column b] = Σ_a G[ξr][a] g[a][b].
            for (int b = 0; b < 3; b++) {
                for (int k = 0; k < nb; k++) {
                    float g0 = g[b][k], g1 = g[3 + b][k], g2 = g[6 + b][k];
                    t[0][b][k] = 0.25f * g0;
                    t[1][b][k] = (-1.0f / 6.0f) * (g0 + g1 + g2);
                    t[2][b][k] = (-1.0f / 6.0f) * (g0 - g1 + g2);
                    t[3][b][k] = (1.0f / 24.0f) * g0 + (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2;
                    t[4][b][k] = (1.0f / 24.0f) * g0 - (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2;
                    t[5][b][k] = g2;
                }
            }
            float *dst = u + (size_t)(co - co0) * cin + cb;
            for (int r = 0; r < 6; r++) {
                for (int k = 0; k < nb; k++) {
                    float g0 = t[r][0][k], g1 = t[r][1][k], g2 = t[r][2][k];
                    dst[(size_t)(6 * r + 0) * u_plane + k] = 0.25f * g0;
                    dst[(size_t)(6 * r + 1) * u_plane + k] = (-1.0f / 6.0f) * (g0 + g1 + g2);
                    dst[(size_t)(6 * r + 2) * u_plane + k] = (-1.0f / 6.0f) * (g0 - g1 + g2);
                    dst[(size_t)(6 * r + 3) * u_plane + k] =
                        (1.0f / 24.0f) * g0 + (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2;
                    dst[(size_t)(6 * r + 4) * u_plane + k] =
                        (1.0f / 24.0f) * g0 - (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2;
                    dst[(size_t)(6 * r + 5) * u_plane + k] = g2;
                }
            }
        }
    }
}

// MARK: input transform V = Bᵀ·d·B
//   Bᵀ = [ 4 0 −5 0 1 0 ; 0 −4 −4 1 1 0 ; 0 4 −4 −1 1 0 ; 0 −2 −1 2 1 0 ; 0 2 −1 −2 1 0 ; 0 4 0 −5 0 1 ]

DK_INLINE void wg_input_body(const float *x, int cin, int h, int w, int pt, int pl, int tiles_y, int tiles_x,
                             long t0, int tn, int c0, int cn, float *v, size_t v_plane) {
    float prow[4 * SEG + 8];
    float tmp[6][6][SEG];
    long per_image = (long)tiles_y * tiles_x;
    long t = t0;
    while (t < t0 + tn) {
        long n = t / per_image;
        long rem = t % per_image;
        int ty = (int)(rem / tiles_x), tx = (int)(rem % tiles_x);
        int seg = tiles_x - tx;
        if (seg > SEG) seg = SEG;
        if ((long)seg > t0 + tn - t) seg = (int)(t0 + tn - t);
        int xb = 4 * tx - pl;
        int len = 4 * seg + 2;
        // Columns [lo, hi) of the row segment lie inside the image.
        int lo = xb < 0 ? -xb : 0;
        int hi = w - xb < len ? w - xb : len;
        if (hi < lo) hi = lo;
        for (int c = c0; c < c0 + cn; c++) {
            const float *img = x + ((size_t)n * cin + c) * (size_t)h * w;
            for (int r = 0; r < 6; r++) {
                int y = 4 * ty - pt + r;
                if (y < 0 || y >= h) {
                    memset(prow, 0, sizeof(float) * (size_t)len);
                } else {
                    for (int k = 0; k < lo; k++) prow[k] = 0;
                    /* Only when some column lies inside, and xb + lo (≥ 0) summed first: img + y·w + xb alone may
                       point before the image, and past its end when the segment lies wholly in the right padding. */
                    if (hi > lo) memcpy(prow + lo, img + (size_t)y * w + (xb + lo), sizeof(float) * (size_t)(hi - lo));
                    for (int k = hi; k < len; k++) prow[k] = 0;
                }
                for (int s = 0; s < seg; s++) {
                    const float *d = prow + 4 * s;
                    float d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3], d4 = d[4], d5 = d[5];
                    tmp[r][0][s] = 4.0f * d0 - 5.0f * d2 + d4;
                    tmp[r][1][s] = -4.0f * (d1 + d2) + (d3 + d4);
                    tmp[r][2][s] = 4.0f * (d1 - d2) + (d4 - d3);
                    tmp[r][3][s] = 2.0f * (d3 - d1) + (d4 - d2);
                    tmp[r][4][s] = 2.0f * (d1 - d3) + (d4 - d2);
                    tmp[r][5][s] = 4.0f * d1 - 5.0f * d3 + d5;
                }
            }
            float *dst = v + (size_t)(c - c0) * tn + (t - t0);
            for (int i = 0; i < 6; i++) {
                for (int s = 0; s < seg; s++) {
                    float d0 = tmp[0][i][s], d1 = tmp[1][i][s], d2 = tmp[2][i][s];
                    float d3 = tmp[3][i][s], d4 = tmp[4][i][s], d5 = tmp[5][i][s];
                    dst[(size_t)(0 + i) * v_plane + s] = 4.0f * d0 - 5.0f * d2 + d4;
                    dst[(size_t)(6 + i) * v_plane + s] = -4.0f * (d1 + d2) + (d3 + d4);
                    dst[(size_t)(12 + i) * v_plane + s] = 4.0f * (d1 - d2) + (d4 - d3);
                    dst[(size_t)(18 + i) * v_plane + s] = 2.0f * (d3 - d1) + (d4 - d2);
                    dst[(size_t)(24 + i) * v_plane + s] = 2.0f * (d1 - d3) + (d4 - d2);
                    dst[(size_t)(30 + i) * v_plane + s] = 4.0f * d1 - 5.0f * d3 + d5;
                }
            }
        }
        t += seg;
    }
}

// MARK: output transform Y = Aᵀ·M·A
//   Aᵀ = [ 1 1 1 1 1 0 ; 0 1 −1 2 −2 0 ; 0 1 1 4 4 0 ; 0 1 −1 8 −8 1 ]

DK_INLINE void wg_output_body(const float *m, size_t m_plane, int co0, int con, const float *bias, float *y,
                              int cout, int hout, int wout, int tiles_y, int tiles_x, long t0, int tn,
                              int accumulate) {
    float tmp[6][4][SEG];
    float orow[4 * SEG];
    long per_image = (long)tiles_y * tiles_x;
    long t = t0;
    while (t < t0 + tn) {
        long n = t / per_image;
        long rem = t % per_image;
        int ty = (int)(rem / tiles_x), tx = (int)(rem % tiles_x);
        int seg = tiles_x - tx;
        if (seg > SEG) seg = SEG;
        if ((long)seg > t0 + tn - t) seg = (int)(t0 + tn - t);
        int x0 = 4 * tx;
        int cols = wout - x0 < 4 * seg ? wout - x0 : 4 * seg;
        for (int co = co0; co < co0 + con; co++) {
            const float *src = m + (size_t)(co - co0) * tn + (t - t0);
            // Along each row j: tmp[j][q] = Σ_i Aᵀ[q][i] M[j][i].
            for (int j = 0; j < 6; j++) {
                const float *r0 = src + (size_t)(6 * j) * m_plane;
                for (int s = 0; s < seg; s++) {
                    float m0 = r0[s], m1 = r0[m_plane + s], m2 = r0[2 * m_plane + s];
                    float m3 = r0[3 * m_plane + s], m4 = r0[4 * m_plane + s], m5 = r0[5 * m_plane + s];
                    float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
                    tmp[j][0][s] = m0 + a + c;
                    tmp[j][1][s] = b + 2.0f * d;
                    tmp[j][2][s] = a + 4.0f * c;
                    tmp[j][3][s] = b + 8.0f * d + m5;
                }
            }
            float bv = bias ? bias[co] : 0.0f;
            float *plane = y + ((size_t)n * cout + co) * (size_t)hout * wout;
            for (int p = 0; p < 4; p++) {
                int yy = 4 * ty + p;
                if (yy >= hout) break;
                for (int q = 0; q < 4; q++) {
                    for (int s = 0; s < seg; s++) {
                        float m0 = tmp[0][q][s], m1 = tmp[1][q][s], m2 = tmp[2][q][s];
                        float m3 = tmp[3][q][s], m4 = tmp[4][q][s], m5 = tmp[5][q][s];
                        float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
                        float val;
                        switch (p) {
                        case 0: val = m0 + a + c; break;
                        case 1: val = b + 2.0f * d; break;
                        case 2: val = a + 4.0f * c; break;
                        default: val = b + 8.0f * d + m5; break;
                        }
                        orow[4 * s + q] = val + bv;
                    }
                }
                float *dst = plane + (size_t)yy * wout + x0;
                if (accumulate) {
                    for (int k = 0; k < cols; k++) dst[k] += orow[k];
                } else {
                    memcpy(dst, orow, sizeof(float) * (size_t)cols);
                }
            }
        }
        t += seg;
    }
}

// MARK: dispatch

#define DK_WG_VARIANTS(ATTR, SUFFIX)                                                                         \
    ATTR static void wg_weights_##SUFFIX(const void *weight, int dtype, int cin, int co0, int con, float *u, \
                                         size_t u_plane) {                                                  \
        wg_weights_body(weight, dtype, cin, co0, con, u, u_plane);                                          \
    }                                                                                                       \
    ATTR static void wg_input_##SUFFIX(const float *x, int cin, int h, int w, int pt, int pl, int tiles_y,  \
                                       int tiles_x, long t0, int tn, int c0, int cn, float *v,              \
                                       size_t v_plane) {                                                    \
        wg_input_body(x, cin, h, w, pt, pl, tiles_y, tiles_x, t0, tn, c0, cn, v, v_plane);                  \
    }                                                                                                       \
    ATTR static void wg_output_##SUFFIX(const float *m, size_t m_plane, int co0, int con, const float *bias, \
                                        float *y, int cout, int hout, int wout, int tiles_y, int tiles_x,   \
                                        long t0, int tn, int acc) {                                         \
        wg_output_body(m, m_plane, co0, con, bias, y, cout, hout, wout, tiles_y, tiles_x, t0, tn, acc);     \
    }

DK_WG_VARIANTS(, portable)
#if DK_HAS_WIDE
DK_WG_VARIANTS(DK_TARGET_AVX2, avx2)
DK_WG_VARIANTS(DK_TARGET_AVX512, avx512)
#endif

/// The caller's level, never above what the processor has.
static int wg_level(int level) {
    int best = dk_cpu_best_level();
    return level < best ? level : best;
}

void dk_winograd43_weights(const void *weight, int dtype, int cin, int co0, int con, float *u, size_t u_plane,
                           int level) {
#if DK_HAS_WIDE
    level = wg_level(level);
    if (level >= 2) { wg_weights_avx512(weight, dtype, cin, co0, con, u, u_plane); return; }
    if (level >= 1) { wg_weights_avx2(weight, dtype, cin, co0, con, u, u_plane); return; }
#endif
    (void)level;
    wg_weights_portable(weight, dtype, cin, co0, con, u, u_plane);
}

void dk_winograd43_input(const float *x, int cin, int h, int w, int pt, int pl, int tiles_y, int tiles_x,
                         long t0, int tn, int c0, int cn, float *v, size_t v_plane, int level) {
#if DK_HAS_WIDE
    level = wg_level(level);
    if (level >= 2) { wg_input_avx512(x, cin, h, w, pt, pl, tiles_y, tiles_x, t0, tn, c0, cn, v, v_plane); return; }
    if (level >= 1) { wg_input_avx2(x, cin, h, w, pt, pl, tiles_y, tiles_x, t0, tn, c0, cn, v, v_plane); return; }
#endif
    (void)level;
    wg_input_portable(x, cin, h, w, pt, pl, tiles_y, tiles_x, t0, tn, c0, cn, v, v_plane);
}

void dk_winograd43_output(const float *m, size_t m_plane, int co0, int con, const float *bias, float *y,
                          int cout, int hout, int wout, int tiles_y, int tiles_x, long t0, int tn, int accumulate,
                          int level) {
#if DK_HAS_WIDE
    level = wg_level(level);
    if (level >= 2) {
        wg_output_avx512(m, m_plane, co0, con, bias, y, cout, hout, wout, tiles_y, tiles_x, t0, tn, accumulate);
        return;
    }
    if (level >= 1) {
        wg_output_avx2(m, m_plane, co0, con, bias, y, cout, hout, wout, tiles_y, tiles_x, t0, tn, accumulate);
        return;
    }
#endif
    (void)level;
    wg_output_portable(m, m_plane, co0, con, bias, y, cout, hout, wout, tiles_y, tiles_x, t0, tn, accumulate);
}
