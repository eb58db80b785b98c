// Fused scaled-dot-product attention: one tile of query rows against all keys of one head, with the scores,
// the online softmax and the P·V product kept in a small per-thread scratch (L1/L2-sized), so no score matrix
// ever reaches main memory. Vectorised paths are chosen at run time (dk_cpu.h); on processors without them
// the caller keeps its own portable path (tiled GEMMs), which `dk_attention_fused_available` reports.
#pragma once
#include <stddef.h>

/// The largest number of query rows one `dk_attention_tile` call takes.
size_t dk_attention_query_tile(void);

/// 1 when `dk_attention_tile` has a vectorised path at the current instruction-set level, else 0.
int dk_attention_fused_available(void);

/// The number of floats of scratch one `dk_attention_tile` call needs for head widths `d` (queries and keys)
/// and `dv` (values). The scratch must be 64-byte aligned.
size_t dk_attention_scratch_count(size_t d, size_t dv);

/// The number of floats `dk_attention_pack` writes for one head of `keys` keys.
size_t dk_attention_packed_count(size_t keys, size_t d, size_t dv);

/// Copies one head's keys `k` [keys, d] (row stride `ldk`) and values `v` [keys, dv] (stride `ldv`) into the
/// layout `dk_attention_tile` reads (`packed`, 64-byte aligned, dk_attention_packed_count floats).
void dk_attention_pack(const float *k, size_t ldk, const float *v, size_t ldv, size_t keys, size_t d, size_t dv,
                       float *packed);

/// softmax(scale·Q·Kᵀ)·V for `rows` (≤ dk_attention_query_tile()) query rows of one head:
/// `q` [rows, d] (row stride `ldq`) against the head's keys and values packed by `dk_attention_pack`, the
/// result into `o` [rows, dv] (stride `ldo`). Causal masking (top-left aligned, as torch's `is_causal`) when `causal`
/// is non-zero: query row r, whose index in the sequence is `first_query + r`, sees key j only if
/// j ≤ first_query + r. Float32 throughout; a row whose every score is −inf gives NaN, as torch does.
/// `level` is the instruction-set level (`dk_cpu_level()`) the caller read once for the whole attention call, so
/// that a level changed meanwhile cannot leave some tiles unwritten; a level above what the processor has is
/// lowered to it.
/// Returns 0, or −1 (nothing written) when `level` (so lowered) has no vectorised path.
int dk_attention_tile(const float *q, size_t ldq, const float *packed, float *o, size_t ldo, size_t rows,
                      size_t keys, size_t d, size_t dv, float scale, int causal, long first_query, float *scratch,
                      int level);
