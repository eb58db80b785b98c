// Convolution helpers for DiffusionCore: im2col for the general (strided, padded) convolution, weight
// widening from half-precision storage, and bias. Every function keeps a portable path and picks AVX2+FMA
// (F16C) at run time through dk_cpu.h. All tensors are dense row-major float32 unless stated.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Element types a convolution weight may be stored in (widened to float32 inside the kernels).
enum {
    DK_CONV_WEIGHT_F32 = 0,
    DK_CONV_WEIGHT_F16 = 1,
    DK_CONV_WEIGHT_BF16 = 2,
};

/// Converts `count` weights of type `dtype` (a DK_CONV_WEIGHT_* value) at `src` to float32 at `dst`.
void dk_conv_widen(const void *src, int dtype, size_t count, float *dst);

/// im2col for output rows [oy0, oy0 + oh) of one image `x` (C×H×W), channels [c0, c0 + cn):
/// `col[((c - c0)·kh + i)·kw + j][(oy - oy0)·wout + ox] = x[c][oy·sh − pt + i][ox·sw − pl + j]`
/// (0 outside the image). `col` has `ldcol` floats per row (at least oh·wout).
void dk_conv_im2col(const float *x, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl,
                    int wout, int oy0, int oh, int c0, int cn, float *col, size_t ldcol);

/// Sets each of `channels` planes of `plane` floats at `y` to its bias value (`bias[c]`), or to 0 when
/// `bias` is NULL.
void dk_conv_fill_bias(float *y, const float *bias, int channels, size_t plane);
