// Private: builds one kernel body three times (portable, AVX2+FMA+F16C, AVX-512) and picks one at run time.
#pragma once
#include "dk_cpu.h"

#define DK_INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__)
#define DK_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define DK_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))
#define DK_HAS_WIDE 1
#else
#define DK_HAS_WIDE 0
#endif
