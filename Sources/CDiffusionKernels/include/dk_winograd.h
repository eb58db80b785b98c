// Winograd F(4×4, 3×3) transforms for 3×3, stride-1 convolutions (Lavin & Gray, interpolation points
// 0, ±1, ±2, ∞). A convolution runs as: weight transform U = G·g·Gᵀ (36 planes of C_out×C_in), input
// transform V = Bᵀ·d·B (36 planes of C_in×tiles), 36 GEMMs M = U·V, output transform Y = Aᵀ·M·A + bias.
// Transform-domain index ξ = 6·row + column. Tiles are numbered over (image, tile row, tile column) of the
// output; tile t covers output rows 4·ty … 4·ty+3 and columns 4·tx … 4·tx+3. Every function keeps a
// portable path and takes AVX2+FMA or AVX-512 as `level` says: the instruction-set level (dk_cpu_level()) the
// caller read once for the whole convolution, so that a level changed meanwhile (tests switch it process-wide)
// cannot change paths between the parts of one call. A level above what the processor has is lowered to it;
// every level has a path, so these functions never refuse.
#pragma once
#include <stddef.h>

/// Transform-domain planes of F(4×4, 3×3).
#define DK_WINOGRAD43_PLANES 36

/// Weight transform of output channels [co0, co0 + con) of a C_out×C_in×3×3 weight stored as `dtype`
/// (a DK_CONV_WEIGHT_* value from dk_conv.h): `u[ξ·u_plane + (co − co0)·cin + ci]`.
void dk_winograd43_weights(const void *weight, int dtype, int cin, int co0, int con, float *u, size_t u_plane,
                           int level);

/// Input transform of tiles [t0, t0 + tn), channels [c0, c0 + cn) of `x` (N×C_in×H×W; only the images the
/// tiles cover are read): `v[ξ·v_plane + (c − c0)·tn + (t − t0)]`. `pt`/`pl` are the top/left padding.
void dk_winograd43_input(const float *x, int cin, int h, int w, int pt, int pl, int tiles_y, int tiles_x,
                         long t0, int tn, int c0, int cn, float *v, size_t v_plane, int level);

/// Output transform of tiles [t0, t0 + tn), output channels [co0, co0 + con), from
/// `m[ξ·m_plane + (co − co0)·tn + (t − t0)]` into `y` (N×C_out×H_out×W_out), adding `bias[co]` when
/// `bias` is not NULL; with `accumulate` non-zero the result is added to what `y` holds (a residual add in
/// the same pass). Positions past H_out/W_out in border tiles are not written.
void dk_winograd43_output(const float *m, size_t m_plane, int co0, int con, const float *bias, float *y,
                          int cout, int hout, int wout, int tiles_y, int tiles_x, long t0, int tn, int accumulate,
                          int level);
