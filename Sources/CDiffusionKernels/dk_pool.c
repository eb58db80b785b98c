#define _GNU_SOURCE
#include "dk_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

// The job word: generation (32 bits) | chunk count (16) | next unclaimed chunk (16). A chunk is claimed by a
// compare-and-swap of the whole word, so a helper that read an old job's word can never claim in a newer one,
// and the job's task and context, written before the word was published, stay in place while any of its chunks
// is claimed and not finished (the caller waits for every chunk).
#define DK_POOL_MAX_HELPERS 63
#define DK_POOL_MAX_CHUNKS 65535

static _Atomic uint64_t pool_job;
static _Atomic(dk_pool_task) pool_task;
static _Atomic(void *) pool_context;
static _Atomic long pool_helpers_wanted; // helpers with an index below this take part in the current job
static _Atomic long pool_pending;        // chunks not yet finished
static _Atomic long pool_sleepers;
static _Atomic long pool_spin_us = 1000;
static _Atomic long pool_started;

static pthread_mutex_t pool_run_lock = PTHREAD_MUTEX_INITIALIZER;   // one job at a time
static pthread_mutex_t pool_start_lock = PTHREAD_MUTEX_INITIALIZER; // starting helpers
static pthread_mutex_t pool_sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;

static inline uint64_t job_chunks(uint64_t w) { return (w >> 16) & 0xFFFF; }
static inline uint64_t job_next(uint64_t w) { return w & 0xFFFF; }
static inline int job_open(uint64_t w) { return job_next(w) < job_chunks(w); }

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

/// Claims the next chunk of the open job; -1 when none is left.
static long claim(void) {
    uint64_t w = atomic_load_explicit(&pool_job, memory_order_acquire);
    while (job_open(w)) {
        if (atomic_compare_exchange_weak_explicit(&pool_job, &w, w + 1, memory_order_acq_rel, memory_order_acquire))
            return (long)job_next(w);
    }
    return -1;
}

/// Runs chunks of the open job until none is left.
static void work(void) {
    long c;
    while ((c = claim()) >= 0) {
        dk_pool_task task = atomic_load_explicit(&pool_task, memory_order_relaxed);
        void *context = atomic_load_explicit(&pool_context, memory_order_relaxed);
        task(context, c);
        atomic_fetch_sub_explicit(&pool_pending, 1, memory_order_release);
    }
}

static void *helper_main(void *arg) {
    long index = (long)(intptr_t)arg;
    for (;;) {
        // Poll for an open job this helper may join: pause first, then also yield the core to any other
        // runnable thread (OpenBLAS's workers during a GEMM), then sleep.
        int64_t start = now_ns(), spin_ns = atomic_load_explicit(&pool_spin_us, memory_order_relaxed) * 1000;
        int64_t pause_ns = spin_ns < 50000 ? spin_ns : 50000;
        for (;;) {
            uint64_t w = atomic_load_explicit(&pool_job, memory_order_acquire);
            if (job_open(w) && index < atomic_load_explicit(&pool_helpers_wanted, memory_order_relaxed)) {
                work();
                start = now_ns();
                continue;
            }
            for (int i = 0; i < 32; i++) cpu_relax();
            int64_t waited = now_ns() - start;
            if (waited >= spin_ns) break;
            if (waited >= pause_ns) sched_yield();
        }
        pthread_mutex_lock(&pool_sleep_lock);
        atomic_fetch_add(&pool_sleepers, 1);
        while (!(job_open(atomic_load(&pool_job)) && index < atomic_load(&pool_helpers_wanted)))
            pthread_cond_wait(&pool_wake, &pool_sleep_lock);
        atomic_fetch_sub(&pool_sleepers, 1);
        pthread_mutex_unlock(&pool_sleep_lock);
    }
    return 0;
}

/// Starts helpers until `wanted` exist (or one cannot be started); returns how many exist.
static long start_helpers(long wanted) {
    long started = atomic_load_explicit(&pool_started, memory_order_acquire);
    if (started >= wanted) return started;
    pthread_mutex_lock(&pool_start_lock);
    started = atomic_load(&pool_started);
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
    pthread_mutex_unlock(&pool_start_lock);
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

    atomic_store_explicit(&pool_task, task, memory_order_relaxed);
    atomic_store_explicit(&pool_context, context, memory_order_relaxed);
    atomic_store_explicit(&pool_helpers_wanted, helpers, memory_order_relaxed);
    atomic_store_explicit(&pool_pending, chunks, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&pool_job, memory_order_relaxed);
    uint64_t generation = ((old >> 32) + 1) & 0xFFFFFFFFu;
    atomic_store(&pool_job, (generation << 32) | ((uint64_t)chunks << 16)); // sequentially consistent: see below
    // A helper going to sleep counts itself in pool_sleepers and then re-reads the job word; this thread
    // published the word and then reads pool_sleepers. One of the two sees the other's write, so no helper
    // sleeps through an open job.
    if (atomic_load(&pool_sleepers) > 0) {
        pthread_mutex_lock(&pool_sleep_lock);
        pthread_cond_broadcast(&pool_wake);
        pthread_mutex_unlock(&pool_sleep_lock);
    }

    work();
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
