#define _GNU_SOURCE
#include "lorakit_kernels.h"
#include <string.h>
#include <unistd.h>
#include <errno.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LORAKIT_X86 1
#endif

static inline float half_to_float_soft(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do { e++; mant <<= 1; } while ((mant & 0x400) == 0);
            mant &= 0x3FF;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t float_to_half_soft(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t abs = x & 0x7FFFFFFFu;
    if (abs > 0x7F800000u) return (uint16_t)(sign | 0x7E00 | ((abs >> 13) & 0x3FF));  // NaN, quiet
    if (abs >= 0x477FF000u) return (uint16_t)(sign | 0x7C00);                          // overflow → inf
    if (abs < 0x38800000u) {                                                            // subnormal or zero
        if (abs < 0x33000000u) return (uint16_t)sign;                                   // below half of the smallest subnormal
        uint32_t e = abs >> 23;
        uint32_t m = (abs & 0x7FFFFF) | 0x800000;
        uint32_t shift = 126 - e;  // 14 + (113 - e)
        uint32_t half = m >> shift;
        uint32_t rest = m & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t r = abs + 0xC8000FFFu + ((abs >> 13) & 1);  // rebias (−112 << 23) and round to nearest even
    return (uint16_t)(sign | (r >> 13));
}

#ifdef LORAKIT_X86
__attribute__((target("avx,f16c")))
static void f16_to_f32_f16c(const uint16_t *src, float *dst, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < count; i++) dst[i] = half_to_float_soft(src[i]);
}

__attribute__((target("avx,f16c")))
static void f32_to_f16_f16c(const float *src, uint16_t *dst, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 f = _mm256_loadu_ps(src + i);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < count; i++) dst[i] = float_to_half_soft(src[i]);
}

static int detect_f16c(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
}
#endif

int lorakit_has_f16c(void) {
#ifdef LORAKIT_X86
    static int state = -1;
    if (state < 0) state = detect_f16c();
    return state;
#else
    return 0;
#endif
}

void lorakit_f16_to_f32(const uint16_t *src, float *dst, size_t count) {
#ifdef LORAKIT_X86
    if (lorakit_has_f16c()) { f16_to_f32_f16c(src, dst, count); return; }
#endif
    for (size_t i = 0; i < count; i++) dst[i] = half_to_float_soft(src[i]);
}

void lorakit_f32_to_f16(const float *src, uint16_t *dst, size_t count) {
#ifdef LORAKIT_X86
    if (lorakit_has_f16c()) { f32_to_f16_f16c(src, dst, count); return; }
#endif
    for (size_t i = 0; i < count; i++) dst[i] = float_to_half_soft(src[i]);
}

void lorakit_f16_to_f32_portable(const uint16_t *src, float *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = half_to_float_soft(src[i]);
}

void lorakit_f32_to_f16_portable(const float *src, uint16_t *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = float_to_half_soft(src[i]);
}

long long lorakit_copy_file_range_at(int in_fd, long long *in_offset, int out_fd, long long *out_offset, size_t length) {
#if defined(__linux__)
    off_t in_off = (off_t)*in_offset, out_off = (off_t)*out_offset;
    ssize_t n = copy_file_range(in_fd, &in_off, out_fd, &out_off, length, 0);
    if (n >= 0) { *in_offset = (long long)in_off; *out_offset = (long long)out_off; }
    return (long long)n;
#else
    (void)in_fd; (void)in_offset; (void)out_fd; (void)out_offset; (void)length;
    errno = ENOSYS;
    return -1;
#endif
}
