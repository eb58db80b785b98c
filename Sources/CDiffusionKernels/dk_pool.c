#define _GNU_SOURCE
#include "dk_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

// A job of `chunks` chunks is split into one contiguous share per taking part thread (the caller is share 0),
// as OpenMP's static schedule splits a loop: a thread that runs the same op again touches the same part of the
// data, which stays in its core's caches. A thread that has finished its share takes unclaimed chunks of the
// others, so a helper that joins late (or never) costs nothing but its share's parallelism.
//
// Each share's cursor word is generation (32 bits) | end of the share (16) | next unclaimed chunk (16). A chunk
// is claimed by a compare-and-swap of the whole word, so a helper that read an old job's word can never claim
// in a newer one; and the job's task and context, written before the words were published, stay in place while
// any of its chunks is claimed and not finished (the caller waits for every chunk).
#define DK_POOL_MAX_HELPERS 63
#define DK_POOL_MAX_CHUNKS 65535

static _Atomic uint64_t pool_cursor[DK_POOL_MAX_HELPERS + 1];
static _Atomic uint64_t pool_generation;  // published last; a helper joins each generation once
static _Atomic(dk_pool_task) pool_task;
static _Atomic(void *) pool_context;
static _Atomic long pool_shares;          // taking part threads of the current job (caller included)
static _Atomic long pool_pending;         // chunks not yet finished
static _Atomic long pool_sleepers;
static _Atomic long pool_spin_us = 1000;
static _Atomic long pool_started;
static _Atomic int pool_pinning = -1; // -1: not read yet from LORAKIT_PIN_THREADS

static pthread_mutex_t pool_run_lock = PTHREAD_MUTEX_INITIALIZER;   // one job at a time
static pthread_mutex_t pool_sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;

static inline uint64_t cursor_end(uint64_t w) { return (w >> 16) & 0xFFFF; }
static inline uint64_t cursor_next(uint64_t w) { return w & 0xFFFF; }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static inline int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/// The calling thread's processor time: an idle helper's polling budget counts only the time it ran, so a
/// helper that shares a processor with busy threads stays runnable (and the scheduler moves one of them to an
/// idle processor) instead of spending its budget waiting and falling asleep.
static inline int64_t thread_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/// Claims the next chunk of share `share` if it belongs to job `generation`; -1 when none is left there.
static long claim(long share, uint64_t generation) {
    uint64_t w = atomic_load_explicit(&pool_cursor[share], memory_order_acquire);
    while ((w >> 32) == generation && cursor_next(w) < cursor_end(w)) {
        if (atomic_compare_exchange_weak_explicit(&pool_cursor[share], &w, w + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return (long)cursor_next(w);
    }
    return -1;
}

/// Runs chunks of job `generation`: those of share `own` first, then any left in the others.
static void work(long own, long shares, uint64_t generation) {
    for (long k = 0; k < shares; k++) {
        long share = (own + k) % shares, c;
        while ((c = claim(share, generation)) >= 0) {
            dk_pool_task task = atomic_load_explicit(&pool_task, memory_order_relaxed);
            void *context = atomic_load_explicit(&pool_context, memory_order_relaxed);
            task(context, c);
            atomic_fetch_sub_explicit(&pool_pending, 1, memory_order_release);
        }
    }
}

int dk_pool_worker_cpu(long index, void *cpu_set, unsigned long size) {
#if defined(__linux__)
    cpu_set_t allowed;
    if (cpu_set == 0 || size < sizeof(cpu_set_t) || index < 0) return 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
    long seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (seen++ == index + 1) {
            cpu_set_t *mine = (cpu_set_t *)cpu_set;
            CPU_ZERO(mine);
            CPU_SET(cpu, mine);
            return 1;
        }
    }
#else
    (void)index; (void)cpu_set; (void)size;
#endif
    return 0;
}

/// Keeps helper `index` on its own processor (``dk_pool_worker_cpu``) when pinning is on.
static void pin_helper(long index) {
#if defined(__linux__)
    cpu_set_t mine;
    if (dk_pool_pinning() && dk_pool_worker_cpu(index, &mine, sizeof mine))
        pthread_setaffinity_np(pthread_self(), sizeof mine, &mine);
#else
    (void)index;
#endif
}

static void *helper_main(void *arg) {
    long index = (long)(intptr_t)arg;
    uint64_t joined = 0;
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "lorakit-pool"); // as `top -H` and the tests see the helpers
#endif
    pin_helper(index);
    for (;;) {
        // Poll for a job this helper may join: pause first, then also yield the core to any other runnable
        // thread (OpenBLAS's workers during a GEMM), then sleep.
        int64_t start = thread_ns(), spin_ns = atomic_load_explicit(&pool_spin_us, memory_order_relaxed) * 1000;
        int64_t pause_ns = spin_ns < 50000 ? spin_ns : 50000;
        for (;;) {
            uint64_t generation = atomic_load_explicit(&pool_generation, memory_order_acquire);
            if (generation != joined) {
                joined = generation;
                long shares = atomic_load_explicit(&pool_shares, memory_order_relaxed);
                if (index + 1 < shares) work(index + 1, shares, generation);
                start = thread_ns();
                continue;
            }
            for (int i = 0; i < 32; i++) cpu_relax();
            int64_t waited = thread_ns() - start;
            if (waited >= spin_ns) break;
            if (waited >= pause_ns) sched_yield();
        }
        pthread_mutex_lock(&pool_sleep_lock);
        atomic_fetch_add(&pool_sleepers, 1);
        while (atomic_load(&pool_generation) == joined) pthread_cond_wait(&pool_wake, &pool_sleep_lock);
        atomic_fetch_sub(&pool_sleepers, 1);
        pthread_mutex_unlock(&pool_sleep_lock);
    }
    return 0;
}

/// Starts helpers until `wanted` exist (or one cannot be started); returns how many exist. Called with
/// pool_run_lock held, so one thread at a time starts them.
static long start_helpers(long wanted) {
    long started = atomic_load(&pool_started);
    while (started < wanted) {
        pthread_attr_t attr;
        pthread_t thread;
        if (pthread_attr_init(&attr) != 0) break;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, helper_main, (void *)(intptr_t)started);
        pthread_attr_destroy(&attr);
        if (failed) break;
        started++;
        atomic_store(&pool_started, started);
    }
    return started;
}

int dk_pool_run(long chunks, long threads, dk_pool_task task, void *context) {
    if (chunks < 1 || chunks > DK_POOL_MAX_CHUNKS || task == 0) return 0;
    long helpers = threads - 1;
    if (helpers > DK_POOL_MAX_HELPERS) helpers = DK_POOL_MAX_HELPERS;
    if (helpers < 1) return 0;
    if (pthread_mutex_trylock(&pool_run_lock) != 0) return 0;
    long available = start_helpers(helpers);
    if (available < 1) {
        pthread_mutex_unlock(&pool_run_lock);
        return 0;
    }
    if (helpers > available) helpers = available;

    long shares = helpers + 1;
    uint64_t generation = (atomic_load_explicit(&pool_generation, memory_order_relaxed) + 1) & 0xFFFFFFFFu;
    atomic_store_explicit(&pool_task, task, memory_order_relaxed);
    atomic_store_explicit(&pool_context, context, memory_order_relaxed);
    atomic_store_explicit(&pool_shares, shares, memory_order_relaxed);
    atomic_store_explicit(&pool_pending, chunks, memory_order_relaxed);
    for (long p = 0; p < shares; p++) {
        uint64_t lo = (uint64_t)(chunks * p / shares), hi = (uint64_t)(chunks * (p + 1) / shares);
        atomic_store_explicit(&pool_cursor[p], (generation << 32) | (hi << 16) | lo, memory_order_release);
    }
    atomic_store(&pool_generation, generation); // sequentially consistent: see below
    // A helper going to sleep counts itself in pool_sleepers and then re-reads the generation; this thread
    // published the generation and then reads pool_sleepers. One of the two sees the other's write, so no
    // helper sleeps through a job.
    if (atomic_load(&pool_sleepers) > 0) {
        pthread_mutex_lock(&pool_sleep_lock);
        pthread_cond_broadcast(&pool_wake);
        pthread_mutex_unlock(&pool_sleep_lock);
    }

    work(0, shares, generation);
    // Wait for the chunks helpers are still running: they are short, so poll, yielding after a while.
    int64_t start = 0;
    while (atomic_load_explicit(&pool_pending, memory_order_acquire) > 0) {
        for (int i = 0; i < 16; i++) cpu_relax();
        if (start == 0) start = now_ns();
        else if (now_ns() - start > 50000) sched_yield();
    }
    pthread_mutex_unlock(&pool_run_lock);
    return 1;
}

void dk_pool_set_spin_microseconds(long microseconds) {
    atomic_store(&pool_spin_us, microseconds < 0 ? 0 : microseconds);
}

long dk_pool_spin_microseconds(void) { return atomic_load(&pool_spin_us); }

long dk_pool_helper_count(void) { return atomic_load(&pool_started); }

void dk_pool_set_pinning(int on) { atomic_store(&pool_pinning, on ? 1 : 0); }

int dk_pool_pinning(void) {
    int on = atomic_load(&pool_pinning);
    if (on < 0) {
        const char *setting = getenv("LORAKIT_PIN_THREADS");
        on = (setting && setting[0] == '0' && setting[1] == 0) ? 0 : 1;
        int unset = -1;
        if (!atomic_compare_exchange_strong(&pool_pinning, &unset, on)) on = atomic_load(&pool_pinning);
    }
    return on;
}
