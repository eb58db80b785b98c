"""Loading a whole SD pipeline with diffusers' from_pretrained, the counterpart of `model-bench pipeline-load`
(Docs/benchmarks.md): warm-up loads first (page cache), then the time of each load.

    .venv-ref/bin/python Scripts/bench/diffusers_load.py --model bench-data/sd15-random --iterations 3
"""
import argparse
import time

import torch
from diffusers import StableDiffusionPipeline

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="bench-data/sd15-random")
parser.add_argument("--iterations", type=int, default=3)
parser.add_argument("--warmup", type=int, default=1)
parser.add_argument("--dtype", choices=["float16", "float32"], default="float16",
                    help="float16 keeps the fp16 weights as stored (what LoRAKit's default does)")
args = parser.parse_args()
dtype = getattr(torch, args.dtype)

times = []
for i in range(args.warmup + args.iterations):
    t = time.perf_counter()
    pipe = StableDiffusionPipeline.from_pretrained(args.model, torch_dtype=dtype, safety_checker=None,
                                                   requires_safety_checker=False)
    if i >= args.warmup:
        times.append(time.perf_counter() - t)
    del pipe
print(f"from_pretrained {args.model} ({args.dtype}): " + " ".join(f"{x:.3f}" for x in times) + f" s (min {min(times):.3f})")
