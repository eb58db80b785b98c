// Narrowing float to half precision (IEEE binary16 and bfloat16), and the half-precision add that fusing a
// LoRA into half-precision weights uses. Rounding is to nearest, ties to even, as torch's `.to(dtype)` rounds.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// dst[i] = binary16(src[i]), round to nearest even (infinities and NaN kept, NaN quiet; overflow → ±inf).
void dk_f32_to_f16(const float *src, uint16_t *dst, size_t n);

/// dst[i] = bfloat16(src[i]), round to nearest even (NaN → 0x7FC0 with its sign dropped, as torch's
/// `c10::BFloat16` does).
void dk_f32_to_bf16(const float *src, uint16_t *dst, size_t n);

/// dst[i] = half(float(base[i]) + float(half(delta[i]))) where `half` is binary16 (`bf16` = 0) or bfloat16
/// (`bf16` = 1): the delta is first rounded to the weight's type, then added in it — what PEFT's merge does to
/// a half-precision weight on the CPU (`delta.to(dtype)`, then `weight += delta`). `dst` may equal `base`.
void dk_half_add_rounded(const uint16_t *base, const float *delta, uint16_t *dst, size_t n, int bf16);
