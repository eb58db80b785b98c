// A small pool of helper threads for the runtime's parallel-for. Passes over memory of a fraction of a
// millisecond (normalisations, activations) lose their gain when the second core has to be woken for them; the
// pool's helpers keep polling for a short while after each job, as OpenMP's workers do, so a job that follows
// soon after another starts on every core at once. A helper that found no work for the spin time sleeps.
#pragma once

/// One chunk of a job: `chunk` is in 0..<chunks.
typedef void (*dk_pool_task)(void *context, long chunk);

/// Runs `task(context, c)` for every c in 0..<chunks, on the calling thread and up to `threads - 1` helpers;
/// returns once every chunk has finished. Each thread first runs its own contiguous share of the chunks (the
/// caller the first), as OpenMP's static schedule does, then any chunks left in the other shares. Returns 1 when the job ran here, 0 when the pool could not take it
/// (another job is running — a nested call from inside a chunk or a call from another thread —, `chunks` is
/// outside 1...65535, or no helper thread could be started): the caller then runs the chunks another way.
int dk_pool_run(long chunks, long threads, dk_pool_task task, void *context);

/// How long (microseconds) an idle helper polls for the next job before it sleeps; 0 sleeps at once.
void dk_pool_set_spin_microseconds(long microseconds);

/// The idle-poll time in microseconds.
long dk_pool_spin_microseconds(void);

/// The number of helper threads started so far.
long dk_pool_helper_count(void);

/// Whether helpers started from now on keep to one processor each (1, the default) or run anywhere (0).
///
/// Helper i keeps to the (i + 2)-th processor the process may use, leaving the first to the caller. Left free,
/// the scheduler often places a helper woken by the caller on the caller's own processor, where it waits behind
/// the caller's work while another processor idles. The threads of OpenBLAS are best kept the same way
/// (``dk_pool_worker_cpu``), so that the caller is the one thread free to move.
void dk_pool_set_pinning(int on);

/// 1 when helpers are pinned (``dk_pool_set_pinning``; until it is called, 0 when the environment variable
/// LORAKIT_PIN_THREADS is "0", else 1).
int dk_pool_pinning(void);

/// Fills `cpu_set` (a `cpu_set_t` of `size` bytes) with the one processor of worker `index` (the (index + 2)-th
/// processor the process may use); returns 0 when there is no such processor (or off Linux).
int dk_pool_worker_cpu(long index, void *cpu_set, unsigned long size);
