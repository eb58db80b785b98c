// A float32 matrix product for the transform-domain products of Winograd convolutions: few columns (the tiles
// of a chunk), no packing of either operand. BLAS packs both operands before every product, which costs as much
// as the arithmetic when a product has only 16–64 columns; this kernel reads them where they lie.
#pragma once
#include <stddef.h>

/// m[r·ldm + c] = Σ_k a[r·lda + k] · b[k·ldb + c] for r < rows, c < cols (row-major, float32, overwriting m).
/// `level` is the instruction-set level (dk_cpu_level()) the caller read once for its whole call, so that a level
/// changed meanwhile (tests switch it process-wide) cannot change the answer between the products of one call.
/// Returns 1 when it computed the product, 0 (nothing written) when `level` or this processor has no AVX-512 path
/// for it: the caller must then compute the product another way (BLAS).
int dk_gemm_small_n(int rows, int cols, int depth, const float *a, size_t lda, const float *b, size_t ldb, float *m,
                    size_t ldm, int level);
