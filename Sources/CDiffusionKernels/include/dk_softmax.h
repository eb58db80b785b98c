// Softmax kernels: plain row softmax, and the block step of an online (streaming) softmax used by tiled
// attention, so a query tile never needs all keys' scores at once.
#pragma once
#include <stddef.h>

/// y = softmax(scale · x) along each of `rows` rows of `cols` elements (row strides `ld_x`, `ld_y`).
/// In place allowed. −inf entries give 0; a row that is all −inf gives NaN, as torch does.
void dk_softmax_rows(const float *x, size_t ld_x, float *y, size_t ld_y, size_t rows, size_t cols, float scale);

/// One key block of an online softmax over `rows` query rows. `s` holds the block's (already scaled) scores
/// [rows, cols] with row stride `ld`; they are replaced by exp(s − m_new). `row_max` and `row_sum` carry the
/// running maximum and sum per row (start with −inf and 0); `correction[r]` receives exp(m_old − m_new), the
/// factor the caller applies to its running output row before adding this block's contribution.
/// Causal masking (top-left aligned, as torch's `is_causal`): when `causal` is non-zero, key j of this block is
/// visible to row r only if j ≤ diagonal + r (diagonal = first query index − first key index of the block).
void dk_online_softmax_block(float *s, size_t ld, size_t rows, size_t cols, float *row_max, float *row_sum,
                             float *correction, int causal, long diagonal);

/// Multiplies row r of a [rows, cols] matrix (row stride `ld`) by factors[r] (or by 1/factors[r] when
/// `reciprocal` is non-zero).
void dk_scale_rows(float *x, size_t ld, size_t rows, size_t cols, const float *factors, int reciprocal);
