// Element-type conversion kernels for LoRAKit: half-float conversion with the
// F16C instructions when the processor has them (checked at run time), and a
// portable round-to-nearest-even path otherwise. Results are bit-identical.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Widens `count` IEEE half floats to single precision.
void lorakit_f16_to_f32(const uint16_t *src, float *dst, size_t count);

/// Narrows `count` floats to IEEE half, round to nearest even (overflow to infinity, NaN kept quiet).
void lorakit_f32_to_f16(const float *src, uint16_t *dst, size_t count);

/// Whether the F16C path is in use (for benchmarks and tests).
int lorakit_has_f16c(void);

/// The portable paths, exposed so tests can compare them with the F16C ones.
void lorakit_f16_to_f32_portable(const uint16_t *src, float *dst, size_t count);
void lorakit_f32_to_f16_portable(const float *src, uint16_t *dst, size_t count);


/// `copy_file_range(2)` between explicit offsets of both files (the descriptors' positions are untouched).
long long lorakit_copy_file_range_at(int in_fd, long long *in_offset, int out_fd, long long *out_offset, size_t length);
