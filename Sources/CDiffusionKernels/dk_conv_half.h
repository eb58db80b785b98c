// Private: scalar float16 / bfloat16 → float32 conversions (exact, subnormals included; a signalling half NaN
// comes out quiet, as the F16C instruction gives it).
#pragma once
#include "dk_conv_dispatch.h"
#include <stdint.h>
#include <string.h>

DK_INLINE float dkc_f16_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            float f = (float)man * (1.0f / 16777216.0f); /* man · 2^-24 */
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exp == 31) { /* ±inf, or a NaN made quiet as F16C's vcvtph2ps and torch's conversion make it */
        bits = sign | 0x7f800000u | (man << 13) | (man ? 0x00400000u : 0u);
    } else {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

DK_INLINE float dkc_bf16_to_float(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

/// Element `i` of a weight array stored as `dtype` (DK_CONV_WEIGHT_*), as float32.
DK_INLINE float dk_weight_at(const void *p, int dtype, size_t i) {
    switch (dtype) {
    case 1: return dkc_f16_to_float(((const uint16_t *)p)[i]);
    case 2: return dkc_bf16_to_float(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}
