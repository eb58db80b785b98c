#!/usr/bin/env bash
# Coverage-guided fuzzing of the safetensors header parser and the LoRA reader (libFuzzer + AddressSanitizer).
#
#   Scripts/fuzz.sh                 # 10 million inputs
#   Scripts/fuzz.sh 1000000         # another count
#   FUZZ_SECONDS=600 Scripts/fuzz.sh 0   # run for a time instead (0 inputs = unlimited)
#   FUZZ_JOBS=2 Scripts/fuzz.sh          # the inputs shared out over 2 processes with one corpus
#                                        # (logs in Fuzz/logs/fuzz-N.log)
#
# Builds the separate package in Fuzz/ (release, -sanitize=fuzzer,address), seeds Fuzz/corpus/ from the test
# fixtures, and runs libFuzzer with leak detection on. Crashing inputs land in Fuzz/artifacts/; the exit status
# is libFuzzer's (0 = no crash, no leak, no timeout). See Docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-10000000}"
SWIFT="${SWIFT:-swift}"

"$SWIFT" build --package-path Fuzz -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
BIN="$("$SWIFT" build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --show-bin-path)/lorakit-fuzz"

# Seed corpus: every small fixture that is (or pretends to be) a safetensors file.
mkdir -p Fuzz/corpus Fuzz/artifacts
find Tests/LoRAKitTests/Fixtures Examples -name '*.safetensors' -size -65k -print0 |
    while IFS= read -r -d '' f; do cp "$f" "Fuzz/corpus/seed-$(basename "$(dirname "$f")")-$(basename "$f")"; done

JOBS="${FUZZ_JOBS:-1}"
ROOT="$(pwd)"
ARGS=(-max_len=12288 -timeout=10 -rss_limit_mb=4096 -detect_leaks=1 -print_final_stats=1
      -artifact_prefix="$ROOT/Fuzz/artifacts/")
if [ "$RUNS" != 0 ]; then ARGS+=(-runs="$(( (RUNS + JOBS - 1) / JOBS ))"); fi
if [ -n "${FUZZ_SECONDS:-}" ]; then ARGS+=(-max_total_time="$FUZZ_SECONDS"); fi
if [ "$JOBS" != 1 ]; then
    ARGS+=(-jobs="$JOBS" -workers="$JOBS")
    mkdir -p Fuzz/logs
    cd Fuzz/logs  # libFuzzer writes fuzz-N.log into the current folder
fi
echo "fuzz: $BIN ${ARGS[*]} $ROOT/Fuzz/corpus" >&2
exec "$BIN" "${ARGS[@]}" "$ROOT/Fuzz/corpus"
