#include "dk_cpu.h"
#include "dk_simd.h"
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long dk_xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static int dk_os_saves_ymm(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0; /* OSXSAVE */
    return (dk_xgetbv0() & 0x6) == 0x6;
}

int dk_cpu_has_avx2_fma(void) {
    unsigned int a, b, c, d;
    if (!dk_os_saves_ymm()) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx2 = (b >> 5) & 1;
    return fma && f16c && avx && avx2;
}

int dk_cpu_has_avx512f(void) {
    unsigned int a, b, c, d;
    if (!dk_cpu_has_avx2_fma()) return 0;
    if ((dk_xgetbv0() & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 16) & 1;
}
#else
int dk_cpu_has_avx2_fma(void) { return 0; }
int dk_cpu_has_avx512f(void) { return 0; }
#endif

/* Process-wide state read by every dispatching kernel while tests may change the cap from other threads: C11
   atomics (relaxed: each value stands alone, nothing else is published through it), so that the concurrent reads
   and writes are defined behaviour and not a data race. On x86 a relaxed load or store is a plain move. */
static _Atomic int dk_max_level = -1;
static _Atomic int dk_best_level = -1; /* detected once; cpuid is slow under a hypervisor */

void dk_cpu_set_max_level(int level) { atomic_store_explicit(&dk_max_level, level, memory_order_relaxed); }

int dk_cpu_best_level(void) {
    int best = atomic_load_explicit(&dk_best_level, memory_order_relaxed);
    if (best < 0) { /* threads that race here detect the same value */
        best = dk_cpu_has_avx512f() ? 2 : (dk_cpu_has_avx2_fma() ? 1 : 0);
        atomic_store_explicit(&dk_best_level, best, memory_order_relaxed);
    }
    return best;
}

int dk_cpu_level(void) {
    int best = dk_cpu_best_level();
    int cap = atomic_load_explicit(&dk_max_level, memory_order_relaxed);
    if (cap >= 0 && cap < best) return cap;
    return best;
}

int dk_use_avx2(void) { return dk_cpu_level() >= 1; }
