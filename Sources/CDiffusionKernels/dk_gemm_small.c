#include "dk_gemm_small.h"
#include "dk_conv_dispatch.h"

#if DK_HAS_WIDE
#include <immintrin.h>

// Register tiles: R rows × NV vectors of 16 columns, at most 24 accumulators (R ≤ 12 for one or two vectors,
// ≤ 8 for three, ≤ 6 for four), so that enough independent FMA chains hide the FMA latency; the last vector
// is masked.
#define GS_KERNEL(R, NV)                                                                                      \
    DK_TARGET_AVX512 static void gs_kernel_##R##_##NV(const float *a, size_t lda, const float *b, size_t ldb, \
                                                      float *m, size_t ldm, int depth, __mmask16 last) {     \
        __m512 acc[R][NV];                                                                                   \
        for (int r = 0; r < R; r++)                                                                          \
            for (int j = 0; j < NV; j++) acc[r][j] = _mm512_setzero_ps();                                    \
        for (int k = 0; k < depth; k++) {                                                                    \
            const float *bk = b + (size_t)k * ldb;                                                           \
            __m512 bv[NV];                                                                                   \
            for (int j = 0; j < NV - 1; j++) bv[j] = _mm512_loadu_ps(bk + 16 * j);                           \
            bv[NV - 1] = _mm512_maskz_loadu_ps(last, bk + 16 * (NV - 1));                                    \
            for (int r = 0; r < R; r++) {                                                                    \
                __m512 av = _mm512_set1_ps(a[(size_t)r * lda + k]);                                          \
                for (int j = 0; j < NV; j++) acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);              \
            }                                                                                                \
        }                                                                                                    \
        for (int r = 0; r < R; r++) {                                                                        \
            float *mr = m + (size_t)r * ldm;                                                                 \
            for (int j = 0; j < NV - 1; j++) _mm512_storeu_ps(mr + 16 * j, acc[r][j]);                       \
            _mm512_mask_storeu_ps(mr + 16 * (NV - 1), last, acc[r][NV - 1]);                                 \
        }                                                                                                    \
    }

#define GS_R6(NV) GS_KERNEL(1, NV) GS_KERNEL(2, NV) GS_KERNEL(3, NV) GS_KERNEL(4, NV) GS_KERNEL(5, NV) GS_KERNEL(6, NV)
#define GS_R8(NV) GS_R6(NV) GS_KERNEL(7, NV) GS_KERNEL(8, NV)
#define GS_R12(NV) GS_R8(NV) GS_KERNEL(9, NV) GS_KERNEL(10, NV) GS_KERNEL(11, NV) GS_KERNEL(12, NV)
GS_R12(1)
GS_R12(2)
GS_R8(3)
GS_R6(4)

typedef void (*gs_kernel)(const float *, size_t, const float *, size_t, float *, size_t, int, __mmask16);

#define GS_T6(NV) gs_kernel_1_##NV, gs_kernel_2_##NV, gs_kernel_3_##NV, gs_kernel_4_##NV, gs_kernel_5_##NV, gs_kernel_6_##NV
#define GS_T8(NV) GS_T6(NV), gs_kernel_7_##NV, gs_kernel_8_##NV
#define GS_T12(NV) GS_T8(NV), gs_kernel_9_##NV, gs_kernel_10_##NV, gs_kernel_11_##NV, gs_kernel_12_##NV
/// gs_kernels[NV − 1][R − 1], R up to gs_rows[NV − 1].
static const gs_kernel gs_kernels[4][12] = {{GS_T12(1)}, {GS_T12(2)}, {GS_T8(3)}, {GS_T6(4)}};
static const int gs_rows[4] = {12, 12, 8, 6};
#endif

int dk_gemm_small_n(int rows, int cols, int depth, const float *a, size_t lda, const float *b, size_t ldb, float *m,
                    size_t ldm, int level) {
#if DK_HAS_WIDE
    if (level < 2 || dk_cpu_best_level() < 2) return 0;
    if (rows <= 0 || cols <= 0) return 1;
    for (int c0 = 0; c0 < cols; c0 += 64) {
        int cn = cols - c0 < 64 ? cols - c0 : 64;
        int nv = (cn + 15) / 16;
        int tail = cn - 16 * (nv - 1);
        __mmask16 last = (__mmask16)(tail == 16 ? 0xFFFF : (1u << tail) - 1u);
        int mr = gs_rows[nv - 1];
        for (int r0 = 0; r0 < rows; r0 += mr) {
            int rn = rows - r0 < mr ? rows - r0 : mr;
            gs_kernels[nv - 1][rn - 1](a + (size_t)r0 * lda, lda, b + c0, ldb, m + (size_t)r0 * ldm + c0, ldm, depth,
                                       last);
        }
    }
    return 1;
#else
    (void)rows; (void)cols; (void)depth; (void)a; (void)lda; (void)b; (void)ldb; (void)m; (void)ldm; (void)level;
    return 0;
#endif
}
