// Element-wise activations and the fused epilogues of linear layers. Each kernel works on a range the caller
// chose (Swift splits the work over the cores); `x` and `y` may be the same buffer (in place).
#pragma once
#include <stddef.h>

/// Activation functions, with torch's definitions.
typedef enum {
    DK_ACT_NONE = 0,
    DK_ACT_SILU = 1,       ///< x·σ(x)
    DK_ACT_GELU_ERF = 2,   ///< x·½·(1 + erf(x/√2))
    DK_ACT_GELU_TANH = 3,  ///< ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    DK_ACT_QUICK_GELU = 4, ///< x·σ(1.702·x)
    DK_ACT_RELU = 5        ///< max(x, 0)
} dk_activation;

/// y[i] = act(x[i]) for i in 0..<n.
void dk_activation_apply(const float *x, float *y, size_t n, dk_activation act);

/// Rows of a [rows, cols] matrix with row stride `ld`: y = act(y + bias) (bias may be NULL).
void dk_bias_activation_rows(float *y, size_t rows, size_t cols, size_t ld, const float *bias, dk_activation act);

/// GEGLU on rows: `src` is [rows, 2·cols] (row stride `ld_src`), first half the value, second the gate;
/// y[r, c] = src[r, c] · gelu(src[r, cols + c]) with `gate_act` (GELU erf or tanh) into [rows, cols] (`ld_dst`).
void dk_geglu_rows(const float *src, size_t ld_src, float *y, size_t ld_dst, size_t rows, size_t cols,
                   dk_activation gate_act);

/// y[i] = (a[i] + b[i]) · scale for i in 0..<n (scale 1 skips the multiply).
void dk_add(const float *a, const float *b, float *y, size_t n, float scale);

/// y[i] = x[i]·scale + shift, then the activation.
void dk_affine_activation(const float *x, float *y, size_t n, float scale, float shift, dk_activation act);
