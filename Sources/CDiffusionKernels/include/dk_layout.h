// Data-movement kernels: transposes (NCHW ↔ token-major sequences), nearest-neighbour upsampling, and
// half-precision widening of weights.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// dst[c, r] = src[r, c] for a [rows, cols] block (row strides `ld_src`, `ld_dst`), cache-blocked.
void dk_transpose(const float *src, size_t ld_src, float *dst, size_t ld_dst, size_t rows, size_t cols);

/// Nearest-neighbour ×2 upsampling of `planes` planes of [h, w] into [2h, 2w] each.
void dk_upsample_nearest2x(const float *src, float *dst, size_t planes, size_t h, size_t w);

/// Widens `n` IEEE half floats to float (exact).
void dk_f16_to_f32(const uint16_t *src, float *dst, size_t n);

/// Widens `n` bfloat16 values to float (exact).
void dk_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
