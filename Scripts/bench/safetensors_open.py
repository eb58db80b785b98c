"""Reference timing for `lorakit-bench header-open`: open a safetensors file with
Python `safetensors.safe_open` and list its keys and metadata, in-process.

From the repository root, with the reference venv .venv-ref/ (made by Scripts/fixtures/setup.sh or
`make fixtures`):
    .venv-ref/bin/python Scripts/bench/safetensors_open.py FILE [REPEATS]
"""
import statistics
import sys
import time

import safetensors
from safetensors import safe_open

path = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 50
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    with safe_open(path, framework="pt") as f:
        n = len(list(f.keys())) + len(f.metadata() or {})
    times.append(time.perf_counter() - t0)
print(f"safe_open ({safetensors.__version__}): {n} entries, {repeats} runs: "
      f"median {statistics.median(times) * 1e3:.3f} ms, min {min(times) * 1e3:.3f} ms")
