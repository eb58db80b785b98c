// Normalisation kernels: one GroupNorm group or a block of LayerNorm rows per call (Swift splits the work).
#pragma once
#include <stddef.h>
#include "dk_activation.h"

/// Normalises one GroupNorm group: `channels` consecutive channel planes of `plane` elements each
/// (NCHW: the group's channels of one image), biased variance, then y = (x − mean)·rstd·γ[c] + β[c] and the
/// activation. `gamma` and `beta` point at the group's first channel (NULL: 1 and 0). In place allowed.
/// The group is read once for its moments (sum and sum of squares in double) and once to normalise; SiLU is fused
/// into that pass (division-free, about 3e-7 relative).
void dk_group_norm_group(const float *x, float *y, size_t channels, size_t plane, const float *gamma,
                         const float *beta, float eps, dk_activation act);

/// LayerNorm over the last axis of `rows` rows of `cols` elements (row strides `ld_x`, `ld_y`):
/// y = (x − mean)·rstd·γ + β (γ, β of `cols` elements; NULL: 1 and 0). In place allowed.
void dk_layer_norm_rows(const float *x, size_t ld_x, float *y, size_t ld_y, size_t rows, size_t cols,
                        const float *gamma, const float *beta, float eps);

/// Mean and biased variance of `n` consecutive elements (one pass, sum and sum of squares in double).
void dk_moments(const float *x, size_t n, float *mean, float *variance);
