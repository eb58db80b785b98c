// Run-time processor feature checks for the DiffusionCore kernels. The package is never built with
// -march=native: kernels compiled for wider instruction sets (per-function target attributes) are chosen at
// run time through these checks, and every kernel keeps a portable path that the tests exercise.
#pragma once

/// 1 when the processor and OS support AVX2 and FMA (and the F16C conversions), else 0.
int dk_cpu_has_avx2_fma(void);

/// 1 when the processor and OS support AVX-512F (with the ZMM state enabled), else 0.
int dk_cpu_has_avx512f(void);

/// Forces every dispatching kernel onto one path, for tests: 0 = portable, 1 = AVX2+FMA at most,
/// 2 = AVX-512 at most, -1 = the best the processor has (the default).
void dk_cpu_set_max_level(int level);

/// The path dispatching kernels use now: 0 portable, 1 AVX2+FMA, 2 AVX-512.
int dk_cpu_level(void);

/// The best path this processor supports (0, 1 or 2), whatever dk_cpu_set_max_level set. Kernels that take a
/// level from their caller never go above it.
int dk_cpu_best_level(void);
