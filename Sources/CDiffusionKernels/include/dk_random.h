// Random-number kernels that reproduce PyTorch's CPU generator bit for bit: the Mersenne Twister
// (mt19937, 32-bit seeding as at::mt19937 does) and the Box–Muller transforms torch.randn applies to
// float32 tensors of 16 or more elements.
#pragma once

#include <stddef.h>
#include <stdint.h>

/// The number of 32-bit words in an mt19937 state.
#define DK_MT19937_N 624

/// Seeds `state` (624 words) as at::mt19937(seed) does: only the low 32 bits of the seed are used.
void dk_mt19937_seed(uint32_t *state, uint32_t seed);

/// Writes the next `count` tempered 32-bit outputs of the engine to `out`. `index` is the position of
/// the next unused word (624 right after seeding); it is advanced, and the state regenerated, as needed.
void dk_mt19937_next(uint32_t *state, int32_t *index, uint32_t *out, size_t count);

/// Fills `out` with `count` float32 uniforms in [0, 1): the low 24 bits of one engine output each,
/// times 2^-24 (at::uniform_real_distribution<float>(0, 1)).
void dk_mt19937_uniform_float(uint32_t *state, int32_t *index, float *out, size_t count);

/// Turns `blocks` consecutive blocks of 16 uniforms into standard normals in place, as torch's
/// AVX2 kernel (normal_fill_16_AVX2 with the Cephes-style log/sincos polynomials) does on x86-64
/// processors with AVX2: u1 = 1 - data[j], u2 = data[j + 8] for j < 8. Runs the AVX2+FMA path when the
/// processor has it (see dk_cpu.h) and an equal-result portable path otherwise.
void dk_torch_box_muller16_avx2(float *data, size_t blocks);

/// The same, on a chosen path: 0 = portable, 1 or more = AVX2+FMA when the processor has it (tests compare
/// the two; the result is identical by construction).
void dk_torch_box_muller16_avx2_at_level(float *data, size_t blocks, int level);

/// The same transform as torch's portable kernel (normal_fill_16 with the C library's logf, cosf, sinf),
/// used by torch builds without AVX2 (ARM processors, ATEN_CPU_CAPABILITY=default).
void dk_torch_box_muller16_scalar(float *data, size_t blocks);
