#!/usr/bin/env python3
"""torch.randn on the CPU, timed per draw; the reference for `diffusion-bench randn`.

    .venv-ref/bin/python Scripts/bench/torch_randn.py --shape 1,4,64,64 --repeats 1000

Each repeat seeds a fresh generator with the repeat index and draws once, as a pipeline does per image.
Single-threaded torch (the draw itself is serial in torch).
"""
import argparse
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--shape", default="1,4,64,64")
parser.add_argument("--repeats", type=int, default=1000)
args = parser.parse_args()
shape = tuple(int(x) for x in args.shape.split(","))
torch.set_num_threads(1)
times = []
checksum = 0.0
for i in range(args.repeats):
    start = time.perf_counter()
    g = torch.Generator().manual_seed(i)
    noise = torch.randn(shape, generator=g)
    times.append(time.perf_counter() - start)
    checksum += float(noise.view(-1)[0])
times.sort()
print(f"randn {list(shape)} x{args.repeats} (torch {torch.__version__}): median {times[len(times) // 2] * 1e6:.1f} µs, "
      f"min {times[0] * 1e6:.1f} µs (checksum {checksum:.4f})")
