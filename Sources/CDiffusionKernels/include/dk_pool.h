// A small pool of helper threads for the runtime's parallel-for. Passes over memory of a fraction of a
// millisecond (normalisations, activations) lose their gain when the second core has to be woken for them; the
// pool's helpers keep polling for a short while after each job, as OpenMP's workers do, so a job that follows
// soon after another starts on every core at once. A helper that found no work for the spin time sleeps.
#pragma once

/// One chunk of a job: `chunk` is in 0..<chunks.
typedef void (*dk_pool_task)(void *context, long chunk);

/// Runs `task(context, c)` for every c in 0..<chunks, on the calling thread and up to `threads - 1` helpers;
/// returns once every chunk has finished. Returns 1 when the job ran here, 0 when the pool could not take it
/// (another job is running — a nested call from inside a chunk or a call from another thread —, `chunks` is
/// outside 1...65535, or no helper thread could be started): the caller then runs the chunks another way.
int dk_pool_run(long chunks, long threads, dk_pool_task task, void *context);

/// How long (microseconds) an idle helper polls for the next job before it sleeps; 0 sleeps at once.
void dk_pool_set_spin_microseconds(long microseconds);

/// The idle-poll time in microseconds.
long dk_pool_spin_microseconds(void);

/// The number of helper threads started so far.
long dk_pool_helper_count(void);
