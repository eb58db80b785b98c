// A float32 matrix product for the transform-domain products of Winograd convolutions: few columns (the tiles
// of a chunk), no packing of either operand. BLAS packs both operands before every product, which costs as much
// as the arithmetic when a product has only 16–64 columns; this kernel reads them where they lie.
#pragma once
#include <stddef.h>

/// m[r·ldm + c] = Σ_k a[r·lda + k] · b[k·ldb + c] for r < rows, c < cols (row-major, float32, overwriting m).
/// Returns 1 when it computed the product, 0 when this processor (or the level set by dk_cpu_set_max_level)
/// has no AVX-512 path for it: the caller then uses BLAS.
int dk_gemm_small_n(int rows, int cols, int depth, const float *a, size_t lda, const float *b, size_t ldb, float *m,
                    size_t ldm);
