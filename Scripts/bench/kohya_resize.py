"""Torch reference timing for the resize benchmark: kohya resize_lora.py's algorithm (full
torch.linalg.svd of each rebuilt ΔW, float32, NUMERICS §3.2 rank rules, U·diag(S) / Vᵀ split,
alpha = scale·rank) on CPU, load + resize + save, with wall time and peak RSS.

From the repository root, with the reference venv .venv-ref/ (made by Scripts/fixtures/setup.sh or
`make fixtures`):
    .venv-ref/bin/python Scripts/bench/kohya_resize.py IN.safetensors OUT.safetensors \
        --rank 32 [--dynamic sv_fro:0.9] [--threads 2]
"""
import argparse
import resource
import time

import torch
from safetensors.torch import load_file, save_file

MIN_SV = 1e-6


def rank_rule(S, method, param, max_rank):
    n = len(S)
    clamp = lambda i: max(1, min(i, n - 1))
    if method == "sv_ratio":
        rank = clamp(int(torch.sum(S > S[0] / param).item())) + 1
    elif method == "sv_cumulative":
        rank = clamp(int(torch.searchsorted(torch.cumsum(S, 0) / float(torch.sum(S)), param)) + 1) + 1
    elif method == "sv_fro":
        sq = S.pow(2)
        rank = clamp(int(torch.searchsorted(torch.cumsum(sq, 0) / float(torch.sum(sq)), param ** 2)) + 1) + 1
    else:
        rank = max_rank
    return 1 if S[0] <= MIN_SV else min(rank, max_rank)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--rank", type=int, required=True)
    p.add_argument("--dynamic")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    method, param = (a.dynamic.split(":")[0], float(a.dynamic.split(":")[1])) if a.dynamic else (None, None)
    t0 = time.perf_counter()
    sd = {k: v.float() for k, v in load_file(a.input).items()}
    out = dict(sd)
    with torch.no_grad():
        for key in list(sd):
            if not key.endswith(".lora_down.weight"):
                continue
            stem = key[: -len(".lora_down.weight")]
            down, up = sd[key], sd[stem + ".lora_up.weight"]
            old = down.shape[0]
            scale = float(sd[stem + ".alpha"]) / old if stem + ".alpha" in sd else 1.0
            M = up.reshape(up.shape[0], -1) @ down.reshape(old, -1)
            U, S, Vh = torch.linalg.svd(M)
            r = rank_rule(S, method, param, a.rank)
            new_up, new_down = U[:, :r] @ torch.diag(S[:r]), Vh[:r, :]
            if down.dim() == 4:
                new_up, new_down = new_up.reshape(up.shape[0], r, 1, 1), new_down.reshape(r, *down.shape[1:])
            out[key], out[stem + ".lora_up.weight"] = new_down.contiguous(), new_up.contiguous()
            out[stem + ".alpha"] = torch.tensor(scale * r)
    save_file(out, a.output)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}: {wall:.2f} s, peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
