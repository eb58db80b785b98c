#!/usr/bin/env python3
"""PyTorch CPU counterpart of `ops-bench` (Benchmarks/ops-bench): the same operations
on the same SD1.5 shapes, timed in-process the same way (warm-up calls, then the median and minimum of
`--repeats` calls, and the median process CPU time per call), with torch limited to the machine's cores.

    .venv-ref/bin/python Scripts/bench/ops_bench.py [case ...] [--repeats N] [--threads N]

Cases: sgemm, attention-self, attention-cross, groupnorm-silu, layernorm, geglu, softmax, linear, all (default);
groupnorm-silu-b2, groupnorm-silu-1280x8x8, groupnorm-silu-640x32x32, groupnorm-silu-512x128x128,
groupnorm-silu-128x512x512 (the other GroupNorm shapes of SD1.5's UNet and VAE).
"""
import argparse
import os
import time

import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("cases", nargs="*", default=["all"])
parser.add_argument("--repeats", type=int, default=10)
parser.add_argument("--warmup", type=int, default=2)
parser.add_argument("--threads", type=int, default=os.cpu_count())
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def measure(name, fn, flops=None, nbytes=None):
    with torch.inference_mode():
        for _ in range(args.warmup):
            fn()
        times, cpu = [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    times.sort()
    cpu.sort()
    med, best = times[len(times) // 2], times[0]
    rate = ""
    if flops:
        rate = f"{flops / med / 1e9:.1f} GFLOP/s"
    if nbytes:
        rate = f"{nbytes / med / 1e9:.2f} GB/s"
    print(f"{name:<28}median {med * 1e3:.3f} ms  min {best * 1e3:.3f} ms  cpu {cpu[len(cpu) // 2] * 1e3:.3f} ms  {rate}",
          flush=True)


def sgemm():
    n = 2048
    a, b = torch.rand(n, n) * 2 - 1, torch.rand(n, n) * 2 - 1
    c = torch.empty(n, n)
    measure("sgemm 2048^3", lambda: torch.mm(a, b, out=c), flops=2 * n ** 3)


def attention(keys, name):
    tokens, heads, d = 4096, 8, 40
    # diffusers' AttnProcessor2_0: [B, T, H·D] → [B, H, T, D], SDPA, back to [B, T, H·D].
    q = torch.rand(1, tokens, heads * d) * 2 - 1
    k, v = torch.rand(1, keys, heads * d) * 2 - 1, torch.rand(1, keys, heads * d) * 2 - 1

    def run():
        qh = q.view(1, tokens, heads, d).transpose(1, 2)
        kh = k.view(1, keys, heads, d).transpose(1, 2)
        vh = v.view(1, keys, heads, d).transpose(1, 2)
        o = F.scaled_dot_product_attention(qh, kh, vh)
        return o.transpose(1, 2).reshape(1, tokens, heads * d)

    measure(name, run, flops=4 * tokens * keys * d * heads)


def groupnorm_silu(shape=(1, 320, 64, 64)):
    x = (torch.rand(*shape) * 2 - 1) * 2
    w, b = torch.rand(shape[1]) * 2 - 1, torch.rand(shape[1]) * 2 - 1
    name = "groupnorm+silu " + ("x".join(map(str, shape[1:])) if shape[0] == 1 else "x".join(map(str, shape)))
    measure(name, lambda: F.silu(F.group_norm(x, 32, w, b, eps=1e-5)), nbytes=2 * x.numel() * 4)


# The other GroupNorm shapes of SD1.5's UNet and VAE (ops-bench has the same names).
GROUPNORM_SHAPES = {"groupnorm-silu-b2": (2, 320, 64, 64), "groupnorm-silu-1280x8x8": (1, 1280, 8, 8),
                    "groupnorm-silu-640x32x32": (1, 640, 32, 32), "groupnorm-silu-512x128x128": (1, 512, 128, 128),
                    "groupnorm-silu-128x512x512": (1, 128, 512, 512)}


def layernorm():
    x = (torch.rand(4096, 320) * 2 - 1) * 2
    w, b = torch.rand(320) * 2 - 1, torch.rand(320) * 2 - 1
    measure("layernorm 4096x320", lambda: F.layer_norm(x, (320,), w, b, eps=1e-5), nbytes=2 * x.numel() * 4)


def geglu():
    # diffusers' GEGLU after its projection: hidden, gate = chunk(2); hidden * gelu(gate).
    x = (torch.rand(4096, 2560) * 2 - 1) * 3

    def run():
        hidden, gate = x.chunk(2, dim=-1)
        return hidden * F.gelu(gate)

    measure("geglu 4096x2560", run, nbytes=(x.numel() + x.numel() // 2) * 4)


def softmax_rows():
    x = (torch.rand(8 * 4096, 77) * 2 - 1) * 4
    measure("softmax 32768x77", lambda: torch.softmax(x * 0.158, dim=-1), nbytes=2 * x.numel() * 4)


def linear():
    rows, inf, outf = 4096, 320, 1280
    x = torch.rand(rows, inf) * 2 - 1
    w, b = (torch.rand(outf, inf) * 2 - 1) * 0.05, torch.rand(outf) * 2 - 1
    measure("linear 4096x320->1280 f32", lambda: F.linear(x, w, b), flops=2 * rows * inf * outf)


CASES = {"sgemm": sgemm, "attention-self": lambda: attention(4096, "attention self 4096 8x40"),
         "attention-cross": lambda: attention(77, "attention cross 4096x77"),
         "groupnorm-silu": groupnorm_silu, "layernorm": layernorm, "geglu": geglu, "softmax": softmax_rows,
         "linear": linear}
CASES.update({name: (lambda shape=shape: groupnorm_silu(shape)) for name, shape in GROUPNORM_SHAPES.items()})
for case in (list(CASES) if "all" in args.cases else args.cases):
    CASES[case]()
